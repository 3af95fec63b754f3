/**
 * Right-sizing: from measured CPU and memory use to the cheapest valid Fargate
 * size that keeps utilisation in the target bands. Pure: samples in, verdict out.
 *
 * Rule: size for a high percentile (p95) of real use with headroom —
 *   CPU units   ≥ p95 vCPUs used × 1024 / 0.80  (p95 at most 80% of the size)
 *   memory MiB  ≥ max(p95 working set / 0.90, peak working set)
 * then take the cheapest valid size (sizes.ts table, priced per the task's
 * architecture and capacity provider) that satisfies both. Because sizes are
 * discrete, utilisation at the recommended size may fall below the band's low
 * edge (70% CPU / 80% memory); the result says so rather than recommending an
 * invalid pair. A CPU p95 at the current limit means the task was throttled:
 * its real demand is unknown and may be higher than measured, and the result
 * says that too.
 */
import Big from 'big.js';
import { allValidSizes, isValidSize, type TaskSize } from '../ecs/sizes.ts';
import { formatCost, hourlyCost, HOURS_PER_MONTH, type PriceTable } from '../metering/pricing.ts';

export const CPU_TARGET = Object.freeze({ low: 0.7, high: 0.8 });
export const MEMORY_TARGET = Object.freeze({ low: 0.8, high: 0.9 });
export const PERCENTILE = 95;
/** Fewer CPU (or memory) samples than this and Skiff says it does not know yet. */
export const DEFAULT_MIN_SAMPLES = 12;

export interface RightsizeInput {
  current: TaskSize;
  /** Average vCPUs used over each sample interval. */
  cpuVcpus: number[];
  /** Working-set bytes at each sample. */
  memoryBytes: number[];
  /** Rates the tasks are billed at (their architecture and capacity provider). */
  prices: PriceTable;
  ephemeralStorageGiB?: number;
  minSamples?: number;
}

export interface Utilisation {
  /** Fraction of the size's vCPUs used at p95. */
  cpuP95: number;
  cpuAvg: number;
  /** Fraction of the size's memory used at p95. */
  memoryP95: number;
  memoryAvg: number;
}

export interface Recommendation {
  status: 'ok' | 'insufficient-data';
  /** Why, in a sentence, when there is not enough data. */
  message?: string;
  samples: { cpu: number; memory: number; needed: number };
  measured?: {
    cpuP95Vcpus: number;
    cpuAvgVcpus: number;
    cpuMaxVcpus: number;
    memoryP95MiB: number;
    memoryAvgMiB: number;
    memoryMaxMiB: number;
  };
  current: TaskSize & { monthlyCost: string; utilisation?: Utilisation };
  recommended?: TaskSize & { monthlyCost: string; utilisation: Utilisation };
  /** current − recommended per task per month (negative when the task needs more). */
  monthlySaving?: string;
  /** saving as a percentage of the current cost, 1 decimal. */
  savingPercent?: string;
  action?: 'downsize' | 'upsize' | 'keep' | 'resize';
  notes: string[];
}

/** The p-th percentile (nearest rank) of `xs`. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length, Math.max(1, rank)) - 1];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const MiB = 1024 * 1024;

function monthly(size: TaskSize, prices: PriceTable, storage: number): Big {
  return hourlyCost({ cpuUnits: size.cpu, memoryMiB: size.memory, ephemeralStorageGiB: storage }, prices).times(HOURS_PER_MONTH);
}

function utilisationAt(size: TaskSize, cpu: number[], memMiB: number[]): Utilisation {
  const vcpu = size.cpu / 1024;
  return {
    cpuP95: percentile(cpu, PERCENTILE) / vcpu,
    cpuAvg: mean(cpu) / vcpu,
    memoryP95: percentile(memMiB, PERCENTILE) / size.memory,
    memoryAvg: mean(memMiB) / size.memory,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

export function recommendSize(input: RightsizeInput): Recommendation {
  const needed = input.minSamples ?? DEFAULT_MIN_SAMPLES;
  const storage = input.ephemeralStorageGiB ?? 20;
  const cpu = input.cpuVcpus.filter((x) => Number.isFinite(x) && x >= 0);
  const memMiB = input.memoryBytes.filter((x) => Number.isFinite(x) && x >= 0).map((b) => b / MiB);
  const currentMonthly = monthly(input.current, input.prices, storage);
  const base: Recommendation = {
    status: 'insufficient-data',
    samples: { cpu: cpu.length, memory: memMiB.length, needed },
    current: { ...input.current, monthlyCost: formatCost(currentMonthly) },
    notes: [],
  };
  if (!isValidSize(input.current.cpu, input.current.memory)) {
    throw new Error(`recommendSize: current size ${input.current.cpu}/${input.current.memory} is not a Fargate size`);
  }
  if (cpu.length < needed || memMiB.length < needed) {
    return {
      ...base,
      message: `not enough data: ${Math.min(cpu.length, memMiB.length)} sample(s) of CPU and memory use, at least ${needed} needed; keep the tasks running and ask again later`,
    };
  }
  const cpuP95 = percentile(cpu, PERCENTILE);
  const memP95 = percentile(memMiB, PERCENTILE);
  const memMax = Math.max(...memMiB);
  const needCpuUnits = (cpuP95 * 1024) / CPU_TARGET.high;
  const needMemMiB = Math.max(memP95 / MEMORY_TARGET.high, memMax);
  const notes: string[] = [];

  let best: TaskSize | undefined;
  let bestPrice: Big | undefined;
  for (const s of allValidSizes()) {
    if (s.cpu < needCpuUnits || s.memory < needMemMiB) continue;
    const p = monthly(s, input.prices, storage);
    if (!bestPrice || p.lt(bestPrice)) {
      best = s;
      bestPrice = p;
    }
  }
  if (!best) {
    best = { cpu: 16384, memory: 122880 };
    bestPrice = monthly(best, input.prices, storage);
    notes.push('the measured use needs more than the largest Fargate size (16 vCPU / 120 GB): split the work over more tasks');
  }

  const currentUtil = utilisationAt(input.current, cpu, memMiB);
  if (currentUtil.cpuP95 >= 0.95) {
    notes.push(
      `CPU was saturated at the current size (p95 ${pct(currentUtil.cpuP95)} of ${input.current.cpu / 1024} vCPU): the task was throttled, so its real demand may be higher than measured; check again after resizing`,
    );
  }
  const util = utilisationAt(best, cpu, memMiB);
  if (util.cpuP95 < CPU_TARGET.low) {
    notes.push(
      util.cpuP95 < CPU_TARGET.low && best.cpu === 256
        ? `CPU p95 would be ${pct(util.cpuP95)} of ${best.cpu / 1024} vCPU, below the ${pct(CPU_TARGET.low)}–${pct(CPU_TARGET.high)} band: 0.25 vCPU is the smallest Fargate size`
        : `CPU p95 would be ${pct(util.cpuP95)}, below the ${pct(CPU_TARGET.low)}–${pct(CPU_TARGET.high)} band: the next smaller CPU size cannot hold the memory or is over 80%`,
    );
  }
  if (util.memoryP95 < MEMORY_TARGET.low) {
    notes.push(
      `memory p95 would be ${pct(util.memoryP95)} of ${best.memory} MiB, below the ${pct(MEMORY_TARGET.low)}–${pct(MEMORY_TARGET.high)} band: ${best.memory} MiB is the least memory Fargate pairs with ${best.cpu} CPU units`,
    );
  }
  const saving = currentMonthly.minus(bestPrice!);
  const same = best.cpu === input.current.cpu && best.memory === input.current.memory;
  const action = same
    ? 'keep'
    : best.cpu <= input.current.cpu && best.memory <= input.current.memory
      ? 'downsize'
      : best.cpu >= input.current.cpu && best.memory >= input.current.memory
        ? 'upsize'
        : 'resize';
  return {
    status: 'ok',
    samples: base.samples,
    measured: {
      cpuP95Vcpus: round(cpuP95, 4),
      cpuAvgVcpus: round(mean(cpu), 4),
      cpuMaxVcpus: round(Math.max(...cpu), 4),
      memoryP95MiB: round(memP95, 2),
      memoryAvgMiB: round(mean(memMiB), 2),
      memoryMaxMiB: round(memMax, 2),
    },
    current: { ...base.current, utilisation: roundUtil(currentUtil) },
    recommended: { ...best, monthlyCost: formatCost(bestPrice!), utilisation: roundUtil(util) },
    monthlySaving: formatCost(saving),
    savingPercent: currentMonthly.eq(0) ? '0.0' : saving.div(currentMonthly).times(100).round(1).toFixed(1),
    action,
    notes,
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
const roundUtil = (u: Utilisation): Utilisation => ({
  cpuP95: round(u.cpuP95, 4),
  cpuAvg: round(u.cpuAvg, 4),
  memoryP95: round(u.memoryP95, 4),
  memoryAvg: round(u.memoryAvg, 4),
});
