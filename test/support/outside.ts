/**
 * An "outside" network a test makes itself, never a real one: a namespace
 * joined to the host by a veth with 198.18.x.{1,2}/30, holding 198.19.y.1/24
 * on its loopback, with one host route to that /24 via the veth. A node script
 * runs inside it (its servers); its first line on stdout means "ready". A
 * server that should reach it runs with egress through that veth only
 * (SKIFF_EGRESS_INTERFACES = hostVeth). `remove()` ends the script (by pid)
 * and deletes the route, the veth, the namespace and the script file.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';

export interface Outside {
  ns: string;
  hostVeth: string;
  /** The host's address on the veth (what SNATed task traffic comes from). */
  hostEnd: string;
  /** The outside's own address (198.19.y.1), where its servers listen. */
  address: string;
  proc: ChildProcess;
  /** Lines the script printed after "ready". */
  lines: string[];
  /** Called with every line the script prints after "ready". */
  onLine(fn: (line: string) => void): void;
  remove(): void;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const quiet = (cmd: string, args: string[]) => {
  try {
    sh(cmd, args);
  } catch {
    /* already gone */
  }
};

/** Makes the outside and starts `script(address)` in it; cleans up and throws if it does not get ready. */
export async function startOutside(name: string, script: (address: string) => string): Promise<Outside> {
  const tag = randomBytes(3).toString('hex');
  const [x, y] = [randomInt(1, 250), randomInt(1, 250)];
  const ns = `${name}${tag}`;
  const hostVeth = `${name.slice(0, 5)}h${tag}`;
  const [hostEnd, outEnd, address, net] = [`198.18.${x}.1`, `198.18.${x}.2`, `198.19.${y}.1`, `198.19.${y}.0/24`];
  const file = `/tmp/skiff-outside-${ns}.mjs`;
  const listeners: ((line: string) => void)[] = [];
  const lines: string[] = [];
  let proc: ChildProcess | undefined;
  const remove = () => {
    if (proc?.pid && proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid);
    quiet('ip', ['route', 'del', net]);
    quiet('ip', ['link', 'del', hostVeth]);
    quiet('ip', ['netns', 'del', ns]);
    rmSync(file, { force: true });
  };
  try {
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    sh('ip', ['addr', 'add', `${hostEnd}/30`, 'dev', hostVeth]);
    sh('ip', ['link', 'set', hostVeth, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${outEnd}/30`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'lo']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['route', 'add', net, 'via', outEnd, 'dev', hostVeth]);
    writeFileSync(file, script(address));
    const p = (proc = spawn('ip', ['netns', 'exec', ns, process.execPath, file], { stdio: ['ignore', 'pipe', 'inherit'] }));
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      let ready = false;
      p.stdout!.on('data', (d) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!ready) {
            ready = true;
            resolve();
            continue;
          }
          lines.push(line);
          for (const fn of listeners) fn(line);
        }
      });
      p.once('exit', (c) => reject(new Error(`the outside's script exited with ${c}`)));
    });
  } catch (e) {
    remove();
    throw e;
  }
  return { ns, hostVeth, hostEnd, address, proc: proc!, lines, onLine: (fn) => listeners.push(fn), remove };
}
