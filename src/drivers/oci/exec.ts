/**
 * Running a command inside a running container (health checks, ECS Exec).
 *
 * Without a user namespace: `runc exec`, which starts from the container's own
 * process spec (env, cwd, user, capabilities, seccomp, cgroup). With one,
 * runc 1.1 cannot exec (it joins the user namespace first and may then not
 * join the host-made network namespace), so `nsenter` joins the container
 * process's namespaces (the user namespace last), root and working directory
 * with the spec's uid/gid and environment, under no_new_privs: container root
 * there is the unprivileged mapped host user. setpriv and nsenter run as host
 * root, so the loader variables of the container's environment (LD_*, ...)
 * never reach them (nor, therefore, the command). Either way the command runs in
 * its own process group, killed as a whole on timeout.
 */
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ExecResult } from '../driver.ts';
import type { RuncPaths } from './paths.ts';
import type { RuncCli } from './runc-cli.ts';
import { withoutLoaderVars } from './exec-session.ts';

export async function execInContainer(
  d: { paths: RuncPaths; cli: RuncCli; userns: boolean },
  id: string,
  args: string[],
  timeoutMs: number,
): Promise<ExecResult> {
  if (args.length === 0) throw new Error('exec needs a command');
  if (!d.userns) return spawnExec(d.cli.runcPath, d.cli.args('exec', id, ...args), { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' }, timeoutMs);
  const st = await d.cli.state(id);
  if (!st || st.status !== 'running') return { exitCode: 126, timedOut: false, output: `container ${id} is not running` };
  const config = JSON.parse(await fsp.readFile(path.join(d.paths.bundle(id), 'config.json'), 'utf8')) as {
    process: { env?: string[]; cwd?: string; user?: { uid: number; gid: number } };
  };
  const containerEnv: Record<string, string> = {};
  for (const kv of config.process.env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) containerEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  // setpriv and nsenter run as host root with this environment: nothing that steers the loader.
  const env = withoutLoaderVars(containerEnv);
  const u = config.process.user ?? { uid: 0, gid: 0 };
  const nsenter = ['--no-new-privs', '--', '/usr/bin/nsenter', '-t', String(st.pid), '-m', '-u', '-i', '-n', '-p', '-C', '-U', '-r', '-W', config.process.cwd ?? '/'];
  return spawnExec('/usr/bin/setpriv', [...nsenter, '-S', String(u.uid), '-G', String(u.gid), '--', ...args], env, timeoutMs);
}

/**
 * Runs `file args` to completion in a process group of its own: exit code (137
 * when killed at the timeout, 127 when it could not run), first 4 KiB of output.
 * `hooks.beforeKill` runs before the group is killed at the timeout (ending what
 * the runtime started inside the sandbox); `hooks.done` once it is over.
 */
export function spawnExec(file: string, args: string[], env: Record<string, string>, timeoutMs: number, hooks: { beforeKill?: () => Promise<void>; done?: () => void } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    let timedOut = false;
    const take = (d: Buffer) => {
      if (output.length < 4096) output = (output + d.toString('utf8')).slice(0, 4096);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch { /* already gone */ }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      if (hooks.beforeKill) void hooks.beforeKill().finally(kill);
      else kill();
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      hooks.done?.();
      resolve({ exitCode: 127, timedOut: false, output: e.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      hooks.done?.();
      resolve({ exitCode: timedOut ? 137 : (code ?? (signal ? 128 : 1)), timedOut, output });
    });
  });
}
