/**
 * `skiff advise`: per-task serverless container vs always-on host vs function
 * for a described workload, with the monthly cost of each and why. Fargate
 * prices come from the server's price table (the us-east-1 defaults when no
 * server answers); host and function prices are the assumptions printed.
 */
import { readFileSync } from 'node:fs';
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';
import type { Workload } from '../../advisor/platform.ts';
import type { PriceBook } from '../../metering/pricing.ts';

interface AdviseOpts {
  file?: string;
  cpu?: string;
  memory?: string;
  duration?: string;
  eventDriven?: boolean;
  rps?: string;
  concurrency?: string;
  costSensitivity?: string;
  arch?: string;
}

const num = (v: string | undefined, name: string) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number (got ${v})`);
  return n;
};

export const adviseCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('advise')
    .description('compare a serverless container, an always-on host and a function for a workload, with monthly costs and why')
    .option('--file <json>', 'workload description {cpu, memoryGB, durationSec, eventDriven, requestsPerSecond, concurrency, costSensitivity, architecture}; flags override it')
    .option('--cpu <vcpus>', 'vCPUs one copy needs')
    .option('--memory <gb>', 'GB of memory one copy needs')
    .option('--duration <seconds>', 'how long one run or request takes')
    .option('--event-driven', 'work arrives as events (default: a long-running service)')
    .option('--rps <n>', 'average events or requests per second')
    .option('--concurrency <n>', 'requests one copy handles at once (default 1)')
    .option('--cost-sensitivity <level>', 'low | medium | high')
    .option('--arch <arch>', 'X86_64 | ARM64')
    .action(async (opts: AdviseOpts) => {
      const [{ advise }, { DEFAULT_PRICE_BOOK, parsePriceBook }] = await Promise.all([import('../../advisor/platform.ts'), import('../../metering/pricing.ts')]);
      let w: Partial<Workload> = {};
      if (opts.file) {
        try {
          w = JSON.parse(readFileSync(opts.file, 'utf8')) as Partial<Workload>;
        } catch (e) {
          throw new Error(`cannot read workload ${opts.file}: ${(e as Error).message}`);
        }
      }
      const flags: Partial<Workload> = {
        cpu: num(opts.cpu, '--cpu'),
        memoryGB: num(opts.memory, '--memory'),
        durationSec: num(opts.duration, '--duration'),
        eventDriven: opts.eventDriven,
        requestsPerSecond: num(opts.rps, '--rps'),
        concurrency: num(opts.concurrency, '--concurrency'),
        costSensitivity: opts.costSensitivity as Workload['costSensitivity'] | undefined,
        architecture: opts.arch as Workload['architecture'] | undefined,
      };
      for (const [k, v] of Object.entries(flags)) if (v !== undefined) (w as Record<string, unknown>)[k] = v;
      w.eventDriven ??= false;
      w.requestsPerSecond ??= 0;
      w.costSensitivity ??= 'medium';

      let book: PriceBook = DEFAULT_PRICE_BOOK;
      let pricesFrom = 'the Skiff server';
      try {
        const r = (await (await skiffFetch(globals(), '/skiff/v1/prices')).json()) as { prices: unknown; source: string };
        book = parsePriceBook(r.prices, 'from the server');
        pricesFrom = `the Skiff server (${r.source})`;
      } catch {
        pricesFrom = 'the us-east-1 defaults (no Skiff server answered)';
      }
      const a = advise(w, book);
      const data = { ...a, fargatePricesFrom: pricesFrom };
      render(format(), data, () => ({
        columns: ['PLATFORM', 'FITS', '$/MONTH', 'HOW'],
        rows: a.options.map((o) => [o.platform + (o.platform === a.recommendation ? ' ◀' : ''), o.fits ? 'yes' : 'no', o.monthlyCost ? `$${o.monthlyCost}` : '-', o.shape ?? o.why[0]]),
      }));
      if (format() === 'table') {
        const out = process.stdout;
        out.write(a.recommendation ? `\nrecommendation: ${a.recommendation}\n` : '\nno recommendation\n');
        for (const r of a.reasons) out.write(`  - ${r}\n`);
        for (const o of a.options.filter((x) => x.platform !== a.recommendation)) {
          out.write(`${o.platform}:\n`);
          for (const r of o.why) out.write(`  - ${r}\n`);
        }
        out.write(`assumptions (Fargate prices from ${pricesFrom}):\n`);
        for (const s of a.assumptions) out.write(`  - ${s}\n`);
      }
    });
};
