/**
 * Starting a created container: through runc's exec fifo when it is there (no
 * runc process), else `runc start`.
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import { sleep } from '../../util/exec.ts';
import { isErrno, type RuncPaths } from './paths.ts';
import type { RuncCli } from './runc-cli.ts';

export async function startContainer(paths: RuncPaths, cli: RuncCli, id: string, globalArgs: string[] = []): Promise<void> {
  if (await startThroughExecFifo(paths.execFifo(id))) return;
  await cli.start(id, globalArgs);
}

/**
 * Starts a created container the way `runc start` does, without running runc:
 * a created container's init waits to open `<runcRoot>/<id>/exec.fifo` for
 * writing; opening it for reading lets init write one byte and exec the
 * process (closing its end: EOF); removing the fifo is what makes runc report
 * the container as running (libcontainer's exec(), unchanged since runc 1.0).
 * The fifo is opened non-blocking and polled, so no thread ever blocks on a
 * container that died. Returns false (the caller runs `runc start`) when there
 * is no fifo or init never writes within the time limit.
 */
async function startThroughExecFifo(fifo: string, timeoutMs = 2000): Promise<boolean> {
  let fh: import('node:fs/promises').FileHandle;
  try {
    const st = await fsp.lstat(fifo);
    if (!st.isFIFO()) return false;
    fh = await fsp.open(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(16);
    const deadline = Date.now() + timeoutMs;
    let got = 0;
    for (;;) {
      let n: number;
      try {
        n = (await fh.read(buf, 0, buf.length, null)).bytesRead;
      } catch (e) {
        if (!isErrno(e, 'EAGAIN', 'EWOULDBLOCK')) throw e;
        n = -1; // init holds the fifo open and has not written yet
      }
      if (n > 0) {
        got += n;
        continue;
      }
      if (n === 0 && got > 0) break; // init wrote, then exec closed its end: the process runs
      if (Date.now() > deadline) {
        if (got === 0) return false;
        break;
      }
      // EAGAIN, or EOF with nothing read (init has not opened its end yet): look again shortly.
      await sleep(1);
    }
  } finally {
    await fh.close();
  }
  await fsp.rm(fifo, { force: true });
  return true;
}
