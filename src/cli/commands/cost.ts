/** `skiff cost`: what tasks cost, grouped, over a time range, with Spot savings and the month's projection. */
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import type { CostReport } from '../../metering/usage.ts';

/** A USD amount for people: 6 decimals below a cent, else 2 (the JSON keeps every digit). */
export function usd(amount: string | undefined): string {
  if (amount === undefined) return '-';
  const n = Number(amount);
  const digits = Math.abs(n) < 1 && n !== 0 ? 6 : 2;
  return `${n < 0 ? '-' : ''}$${Math.abs(n).toFixed(digits)}`;
}

export const costCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('cost')
    .description('cost of tasks by cluster, service, family, tag, capacity provider or day, with Spot savings and a month projection')
    .option('--from <time>', 'start: ISO date/time, or a duration ago (7d, 24h) (default: start of this UTC month)')
    .option('--to <time>', 'end: ISO date/time, "now" or a duration ago (default: now)')
    .option('--group-by <key>', 'cluster | service | family | tag:KEY | capacityProvider | day | architecture | task | none', 'family')
    .option('--cluster <name>', 'only this cluster')
    .action(async (opts: { from?: string; to?: string; groupBy: string; cluster?: string }) => {
      const q = new URLSearchParams({ groupBy: opts.groupBy });
      if (opts.from) q.set('from', opts.from);
      if (opts.to) q.set('to', opts.to);
      if (opts.cluster) q.set('cluster', opts.cluster);
      const r = (await (await skiffFetch(globals(), `/skiff/v1/costs?${q}`)).json()) as CostReport;
      const line = (l: CostReport['total']) => [l.key, usd(l.cost), usd(l.onDemandCost), usd(l.spotSavings), Number(l.vcpuHours).toFixed(3), Number(l.gbHours).toFixed(3), l.tasks, l.runningTasks];
      render(format(), r, () => ({
        columns: [r.groupBy.toUpperCase(), 'COST', 'ON-DEMAND', 'SPOT SAVED', 'VCPU-H', 'GB-H', 'TASKS', 'RUNNING'],
        rows: [...r.lines.map(line), line({ ...r.total, key: 'TOTAL' })],
      }));
      if (format() === 'table') {
        const p = r.projection;
        process.stdout.write(
          `\n${r.from} → ${r.to} (USD)\n` +
            `${p.month}: ${usd(p.monthToDate)} so far; running tasks cost ${usd(p.runRatePerHour)}/h; ` +
            `at that rate the month ends at ${usd(p.projectedMonth)} (${p.hoursLeft} h left)\n`,
        );
      }
    });
};
