/**
 * `skiff top`: CPU, memory, network and storage of every running task, live.
 * Two readings of the cumulative counters `interval` apart give the rates; on
 * a terminal the table is redrawn every interval until Ctrl-C, elsewhere each
 * table (or JSON document) follows the last. `--once` prints one and exits.
 */
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import { bytes, colors } from '../style.ts';
import { topRows, type TopRow, type UsageSnapshot } from '../top-math.ts';

const pct = (n: number | undefined) => (n === undefined ? '-' : `${n.toFixed(1)}%`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const topCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('top')
    .description('live CPU, memory, network and storage use of running tasks')
    .option('--cluster <name>', 'only tasks of this cluster')
    .option('--once', 'print one reading and exit (for scripts)')
    .option('-n, --interval <seconds>', 'seconds between readings', '2')
    .action(async (opts: { cluster?: string; once?: boolean; interval: string }) => {
      const interval = Number(opts.interval);
      if (!(interval >= 0.2 && interval <= 3600)) throw new Error(`--interval must be 0.2 to 3600 seconds (got ${opts.interval})`);
      const q = opts.cluster ? `?cluster=${encodeURIComponent(opts.cluster)}` : '';
      const read = async () => (await (await skiffFetch(globals(), `/skiff/v1/task-usage${q}`)).json()) as UsageSnapshot;
      const c = colors();
      const live = !opts.once && process.stdout.isTTY === true && format() === 'table';
      if (live) process.once('SIGINT', () => process.exit(0));
      let before = await read();
      for (;;) {
        await sleep(interval * 1000);
        const after = await read();
        const rows = topRows(before, after);
        before = after;
        if (live) process.stdout.write('\x1b[H\x1b[2J');
        const heat = (n: number | undefined, text: string) => (n === undefined ? text : n >= 90 ? c.red(text) : n >= 70 ? c.yellow(text) : text);
        render(format(), { intervalSeconds: interval, timestamp: new Date(after.timestamp).toISOString(), tasks: rows }, () => ({
          columns: ['TASK', 'FAMILY', 'SERVICE', 'CPU', 'CPU%', 'MEMORY', 'MEM%', 'NET IN/s', 'NET OUT/s', 'DISK'],
          rows: rows.map((r: TopRow) => [
            r.taskId, `${r.family}:${r.revision}`, r.service || '-', r.cpuVcpus === undefined ? '-' : `${r.cpuVcpus.toFixed(3)} vCPU`, pct(r.cpuPercent),
            `${bytes(r.memoryBytes)} / ${bytes(r.memoryLimitBytes)}`, pct(r.memoryPercent), bytes(r.rxBytesPerSecond && Math.round(r.rxBytesPerSecond)), bytes(r.txBytesPerSecond && Math.round(r.txBytesPerSecond)), bytes(r.storageWritableBytes),
          ]),
          colorize: (text, col) => {
            const r = rows.find((x) => x.taskId === text);
            if (col === 'CPU%' || col === 'MEM%') return heat(Number.parseFloat(text), text);
            return r ? c.bold(text) : text;
          },
        }));
        if (opts.once) return;
        if (!live && format() === 'table') process.stdout.write('\n');
      }
    });
};
