/** `skiff coldstart`: where a task's start time went, and how to make it shorter. */
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import type { FamilySummary, Waterfall } from '../../advisor/coldstart.ts';

const taskIdOf = (ref: string) => ref.split('/').pop()!;
const f1 = (x: number) => x.toFixed(1);

function bar(offset: number, length: number, total: number, width = 40): string {
  if (!total) return '';
  const a = Math.min(width, Math.round((offset / total) * width));
  const n = Math.max(length > 0 ? 1 : 0, Math.round((length / total) * width));
  return ' '.repeat(a) + '█'.repeat(Math.min(n, width - a + 1));
}

export const coldstartCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('coldstart')
    .description("a task's start-up waterfall (or p50/p95 per phase over a family's recent starts), with tips")
    .argument('[task]', 'task id or ARN')
    .option('--family <name>', 'summarise recent starts of this family instead')
    .option('--limit <n>', 'how many recent starts to summarise (default 20)')
    .action(async (task: string | undefined, opts: { family?: string; limit?: string }) => {
      if (!task === !opts.family) throw new Error('give a task, or --family NAME (one of them)');
      const out = process.stdout;
      if (task) {
        const r = (await (await skiffFetch(globals(), `/skiff/v1/tasks/${encodeURIComponent(taskIdOf(task))}/coldstart`)).json()) as { waterfall: Waterfall; tips: string[] };
        const w = r.waterfall;
        render(format(), r, () => ({
          columns: ['PHASE', 'AT MS', 'TOOK MS', 'ADDS MS', 'WATERFALL'],
          rows: w.rows.map((x) => [
            x.partOf ? `  ${x.phase.slice(x.partOf.length + 1)}` : x.phase,
            f1(x.offsetMs),
            f1(x.durationMs),
            x.partOf ? '' : f1(x.criticalMs),
            x.phase === 'overhead' ? '' : bar(x.offsetMs, x.durationMs, w.totalMs ?? 0),
          ]),
        }));
        if (format() === 'table') {
          out.write(w.totalMs !== undefined ? `started in ${f1(w.totalMs)} ms (createdAt → startedAt) on ${w.isolation ?? 'runc'}; ADDS MS sums to ${f1(w.sumCriticalMs!)} ms\n` : `${w.note}\n`);
          const pull = w.rows.find((x) => x.phase === 'image-pull')?.detail;
          if (pull) out.write(`image pull: resolve ${f1(Number(pull.resolveMs))} ms, download ${f1(Number(pull.downloadMs))} ms (${pull.downloadedBytes} bytes), unpack ${f1(Number(pull.unpackMs))} ms; ${pull.cachedLayers}/${pull.layers} layers cached, ${pull.sizeBytes} bytes\n`);
          for (const t of r.tips) out.write(`tip: ${t}\n`);
        }
        return;
      }
      const q = new URLSearchParams({ family: opts.family! });
      if (opts.limit) q.set('limit', opts.limit);
      const r = (await (await skiffFetch(globals(), `/skiff/v1/coldstart?${q}`)).json()) as { summary: FamilySummary; tips: string[] };
      const s = r.summary;
      render(format(), r, () => ({
        columns: ['PHASE', 'STARTS', 'ADDS P50', 'ADDS P95', 'TOOK P50', 'TOOK P95'],
        rows: [
          ...s.phases.map((p) => [p.phase, p.count, f1(p.criticalP50Ms), f1(p.criticalP95Ms), f1(p.durationP50Ms), f1(p.durationP95Ms)]),
          ...(s.starts ? [['TOTAL', s.starts, f1(s.totalP50Ms!), f1(s.totalP95Ms!), '', '']] : []),
        ],
      }));
      if (format() === 'table') {
        if (!s.starts) out.write(`no start of family ${s.family} recorded yet\n`);
        for (const t of r.tips) out.write(`tip: ${t}\n`);
      }
    });
};
