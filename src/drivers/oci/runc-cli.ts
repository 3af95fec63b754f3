/**
 * The runc command line, always against Skiff's own `--root`: state, kill,
 * delete, start and exec arguments. Each call is one short `runc` process.
 */
import { promises as fsp } from 'node:fs';
import { run } from '../../util/exec.ts';
import type { RuncPaths } from './paths.ts';

const NOT_EXIST_RE = /does not exist|not exist|no such file/i;

export interface RuncStateInfo {
  status: string;
  pid: number;
}

export class RuncCli {
  constructor(
    readonly runcPath: string,
    private readonly paths: RuncPaths,
  ) {}

  args(...args: string[]): string[] {
    return ['--root', this.paths.runcRoot, ...args];
  }

  /** `runc state`; undefined when runc does not know the container. */
  async state(id: string): Promise<RuncStateInfo | undefined> {
    const r = await run(this.runcPath, this.args('state', id));
    if (r.code !== 0) {
      if (NOT_EXIST_RE.test(r.stderr)) return undefined;
      throw new Error(`runc state ${id} failed: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout) as RuncStateInfo;
  }

  /** Whether runc has state for the container (no process spawned). */
  async knows(id: string): Promise<boolean> {
    return fsp.access(this.paths.runcState(id)).then(() => true, () => false);
  }

  async kill(id: string, sig: string): Promise<void> {
    const r = await run(this.runcPath, this.args('kill', id, sig));
    // "container not running" / "process already finished": the exit is on its way.
    if (r.code !== 0 && !/not running|already finished|no such process|does not exist/i.test(r.stderr)) {
      throw new Error(`runc kill ${id} ${sig} failed: ${r.stderr.trim()}`);
    }
  }

  /** Signals one process inside the container by its pid there (runsc `kill --pid`). */
  async killPid(id: string, pid: number, sig: string): Promise<void> {
    const r = await run(this.runcPath, this.args('kill', '--pid', String(pid), id, sig));
    if (r.code !== 0 && !/not running|already finished|no such process|does not exist|not found/i.test(r.stderr)) {
      throw new Error(`kill --pid ${pid} ${id} failed: ${r.stderr.trim()}`);
    }
  }

  /** `runc delete --force`; a container runc does not know is fine. */
  async deleteForce(id: string): Promise<void> {
    const r = await run(this.runcPath, this.args('delete', '--force', id));
    if (r.code !== 0 && !NOT_EXIST_RE.test(r.stderr)) {
      throw new Error(`runc delete ${id} failed: ${r.stderr.trim()}`);
    }
  }

  /** `runc start`; `globalArgs` go before the subcommand (runsc sets the sandbox's network up here). */
  async start(id: string, globalArgs: string[] = []): Promise<void> {
    const r = await run(this.runcPath, ['--root', this.paths.runcRoot, ...globalArgs, 'start', id]);
    if (r.code !== 0) throw new Error(`runc start ${id} failed: ${(r.stderr || r.stdout).trim()}`);
  }
}
