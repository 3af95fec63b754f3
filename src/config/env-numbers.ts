/**
 * Numeric settings read from the environment, every problem collected so a
 * settings module can report them all together:
 *
 *   const read = envNumbers(env);
 *   const out = { intervalMs: read.int('SKIFF_X_INTERVAL_MS', 500, 20, 60_000) };
 *   read.check('x');   // throws "invalid x settings:\n  <problem>\n  <problem>"
 *
 * An unset or empty variable gives the default; a bad value gives the default
 * too and adds a problem that names the variable, the allowed range and the value.
 * Given a `problems` list, the reader adds its problems there (resolveServerConfig
 * collects every section's problems in one list and reports them together).
 */
export interface EnvNumbers {
  /** A whole number from `min` to `max`. */
  int(name: string, def: number, min: number, max: number): number;
  /** Any finite number from `min` to `max`. */
  number(name: string, def: number, min: number, max: number): number;
  /** Throws an Error listing every problem so far (`invalid <what> settings:`), if there is one. */
  check(what: string): void;
}

export function envNumbers(env: NodeJS.ProcessEnv, problems: string[] = []): EnvNumbers {
  const read = (name: string, def: number, min: number, max: number, integer: boolean): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      problems.push(`${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (got ${raw})`);
      return def;
    }
    return v;
  };
  return {
    int: (name, def, min, max) => read(name, def, min, max, true),
    number: (name, def, min, max) => read(name, def, min, max, false),
    check(what) {
      if (problems.length) throw new Error(`invalid ${what} settings:\n  ${problems.join('\n  ')}`);
    },
  };
}
