// The parts of cli-progress@3 the CLI uses (the package ships no types).
declare module 'cli-progress' {
  import type { Writable } from 'node:stream';
  export interface Options {
    format?: string | ((options: unknown, params: { value: number; total: number; progress: number; startTime: number }, payload: Record<string, unknown>) => string);
    stream?: Writable;
    fps?: number;
    clearOnComplete?: boolean;
    stopOnComplete?: boolean;
    hideCursor?: boolean | null;
    barsize?: number;
    noTTYOutput?: boolean;
    emptyOnZero?: boolean;
    autopadding?: boolean;
  }
  export class SingleBar {
    constructor(opts: Options, preset?: unknown);
    start(total: number, start: number, payload?: Record<string, unknown>): void;
    update(value: number, payload?: Record<string, unknown>): void;
    setTotal(total: number): void;
    stop(): void;
  }
  export class MultiBar {
    constructor(opts: Options, preset?: unknown);
    create(total: number, start: number, payload?: Record<string, unknown>): SingleBar;
    remove(bar: SingleBar): boolean;
    log(text: string): void;
    stop(): void;
  }
  export const Presets: { shades_classic: unknown; shades_grey: unknown; legacy: unknown; rect: unknown };
  const _default: { SingleBar: typeof SingleBar; MultiBar: typeof MultiBar; Presets: typeof Presets };
  export default _default;
}
