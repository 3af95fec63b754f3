/** `skiff rightsize`: the cheapest valid size per family or service, from measured CPU and memory use. */
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import type { Recommendation } from '../../advisor/rightsize.ts';
import { usd } from './cost.ts';

interface RightsizeResponse {
  windowHours: number;
  results: ({ family?: string; service?: string; tasks: number; recommendation: Recommendation })[];
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(0)}%`);

export const rightsizeCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('rightsize')
    .description('recommend the cheapest valid task size from measured use (CPU p95 at 70-80%, memory p95 at 80-90%)')
    .option('--family <name>', 'only this task family')
    .option('--service <name>', 'only tasks of this service (group service:<name>)')
    .option('--cluster <name>', 'only this cluster')
    .option('--window-hours <n>', 'how far back to look (default 336 = 14 days)')
    .action(async (opts: { family?: string; service?: string; cluster?: string; windowHours?: string }) => {
      if (opts.family && opts.service) throw new Error('give --family or --service, not both');
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries({ family: opts.family, service: opts.service, cluster: opts.cluster, windowHours: opts.windowHours })) if (v) q.set(k, v);
      const r = (await (await skiffFetch(globals(), `/skiff/v1/rightsize?${q}`)).json()) as RightsizeResponse;
      render(format(), r, () => ({
        columns: ['SCOPE', 'TASKS', 'SAMPLES', 'CPU P95', 'MEM P95', 'CURRENT', '$/MONTH', 'RECOMMENDED', '$/MONTH', 'SAVING'],
        rows: r.results.map((x) => {
          const rec = x.recommendation;
          const scope = x.family ? `family ${x.family}` : `service ${x.service}`;
          const cur = `${rec.current.cpu}/${rec.current.memory}`;
          if (rec.status !== 'ok') return [scope, x.tasks, Math.min(rec.samples.cpu, rec.samples.memory), '-', '-', cur, usd(rec.current.monthlyCost), rec.message, '-', '-'];
          return [
            scope,
            x.tasks,
            Math.min(rec.samples.cpu, rec.samples.memory),
            `${rec.measured!.cpuP95Vcpus} vCPU (${pct(rec.current.utilisation?.cpuP95)})`,
            `${rec.measured!.memoryP95MiB} MiB (${pct(rec.current.utilisation?.memoryP95)})`,
            cur,
            usd(rec.current.monthlyCost),
            `${rec.recommended!.cpu}/${rec.recommended!.memory} (${rec.action})`,
            usd(rec.recommended!.monthlyCost),
            `${usd(rec.monthlySaving)} (${rec.savingPercent}%)`,
          ];
        }),
      }));
      if (format() === 'table') {
        if (r.results.length === 0) process.stdout.write('no samples yet: right-sizing needs tasks that have run for a while\n');
        for (const x of r.results) for (const n of x.recommendation.notes) process.stdout.write(`note (${x.family ?? x.service}): ${n}\n`);
        process.stdout.write('sizes are CPU units/MiB; costs are per task for a 730-hour month\n');
      }
    });
};
