/**
 * Fargate task sizes: the CPU/memory table, parsing of the string forms ECS
 * accepts ("1 vCPU", "2GB"), validation of a pair, and the cheapest valid size
 * that covers a need (for right-sizing).
 *
 * CPU is in CPU units (1024 = 1 vCPU); memory is in MiB. ECS stores and returns
 * both as decimal strings of those units ("1024", "2048").
 */
import { clientError } from '../api/errors.ts';

export interface TaskSize {
  cpu: number;
  memory: number;
}

/** One row of the table: for `cpu`, memory from `min` to `max` MiB in `step` MiB. */
interface SizeRow {
  cpu: number;
  memory: readonly number[];
}

function range(min: number, max: number, step: number): number[] {
  const out: number[] = [];
  for (let m = min; m <= max; m += step) out.push(m);
  return out;
}

/** The Fargate (Linux) CPU → memory table, as AWS documents it. */
export const FARGATE_SIZES: readonly SizeRow[] = Object.freeze([
  { cpu: 256, memory: Object.freeze([512, 1024, 2048]) },
  { cpu: 512, memory: Object.freeze(range(1024, 4096, 1024)) },
  { cpu: 1024, memory: Object.freeze(range(2048, 8192, 1024)) },
  { cpu: 2048, memory: Object.freeze(range(4096, 16384, 1024)) },
  { cpu: 4096, memory: Object.freeze(range(8192, 30720, 1024)) },
  { cpu: 8192, memory: Object.freeze(range(16384, 61440, 4096)) },
  { cpu: 16384, memory: Object.freeze(range(32768, 122880, 8192)) },
]);

/** Valid task CPU values, ascending. */
export const FARGATE_CPU_VALUES: readonly number[] = Object.freeze(FARGATE_SIZES.map((r) => r.cpu));

const BY_CPU = new Map<number, ReadonlySet<number>>(FARGATE_SIZES.map((r) => [r.cpu, new Set(r.memory)]));

/** Every valid (cpu, memory) pair, ordered by cpu then memory. */
export function allValidSizes(): TaskSize[] {
  return FARGATE_SIZES.flatMap((r) => r.memory.map((memory) => ({ cpu: r.cpu, memory })));
}

/** Valid memory values (MiB) for a CPU value, or undefined if the CPU value is not a Fargate size. */
export function memoryValuesFor(cpu: number): readonly number[] | undefined {
  return FARGATE_SIZES.find((r) => r.cpu === cpu)?.memory;
}

export function isValidSize(cpu: number, memory: number): boolean {
  return BY_CPU.get(cpu)?.has(memory) ?? false;
}

const CPU_UNITS = /^\s*(\d+)\s*$/;
const CPU_VCPU = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*vcpus?\s*$/i;
const MEM_MIB = /^\s*(\d+)\s*(?:mi?b)?\s*$/i;
const MEM_GB = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*gi?b\s*$/i;

/**
 * CPU units from the forms ECS accepts: an integer number of units (256, "256")
 * or vCPUs ("1 vCPU", "0.25 vcpu", "2vCPU"). Throws ClientException for anything else.
 */
export function parseCpu(value: string | number, what = "'cpu' setting for task"): number {
  let units: number | undefined;
  if (typeof value === 'number') {
    units = value;
  } else if (typeof value === 'string') {
    const u = CPU_UNITS.exec(value);
    const v = u ? undefined : CPU_VCPU.exec(value);
    if (u) units = Number(u[1]);
    else if (v) units = Number(v[1]) * 1024;
  }
  if (units === undefined || !Number.isFinite(units) || !Number.isInteger(units) || units <= 0) {
    throw clientError(
      `Invalid ${what}: ${JSON.stringify(value)}. Give CPU units as an integer (for example "256" or "1024") ` +
        `or vCPUs (for example "0.25 vCPU" or "1 vCPU"); 1 vCPU = 1024 units.`,
    );
  }
  return units;
}

/**
 * Memory in MiB from the forms ECS accepts: an integer number of MiB (512, "512",
 * "512 MiB") or GB ("1GB", "2 GB", "0.5GB"; 1 GB = 1024 MiB, as ECS counts it).
 * Throws ClientException for anything else.
 */
export function parseMemory(value: string | number, what = "'memory' setting for task"): number {
  let mib: number | undefined;
  if (typeof value === 'number') {
    mib = value;
  } else if (typeof value === 'string') {
    const m = MEM_MIB.exec(value);
    const g = m ? undefined : MEM_GB.exec(value);
    if (m) mib = Number(m[1]);
    else if (g) mib = Number(g[1]) * 1024;
  }
  if (mib === undefined || !Number.isFinite(mib) || !Number.isInteger(mib) || mib <= 0) {
    throw clientError(
      `Invalid ${what}: ${JSON.stringify(value)}. Give memory in MiB as an integer (for example "512" or "2048") ` +
        `or in GB (for example "1GB" or "2 GB"); 1 GB = 1024 MiB.`,
    );
  }
  return mib;
}

/** "512, 1024, 2048 MiB" or "8192 to 30720 MiB in steps of 1024 MiB" for long ranges. */
function describeMemory(values: readonly number[]): string {
  if (values.length <= 8) return `${values.join(', ')} MiB`;
  const step = values[1] - values[0];
  return `${values[0]} to ${values[values.length - 1]} MiB in steps of ${step} MiB`;
}

/** Human description of the whole table, for error messages. */
export function describeFargateSizes(): string {
  return FARGATE_SIZES.map((r) => `${r.cpu} CPU: ${describeMemory(r.memory)}`).join('; ');
}

/**
 * Parses and checks a task-level cpu/memory pair against the Fargate table.
 * Returns the normalised numbers; throws ClientException with ECS's wording plus
 * the values that would be valid.
 */
export function validateTaskSize(cpuIn: string | number, memoryIn: string | number): TaskSize {
  const cpu = parseCpu(cpuIn);
  const memory = parseMemory(memoryIn);
  if (isValidSize(cpu, memory)) return { cpu, memory };
  const head = `No Fargate configuration exists for given values: ${cpu} CPU, ${memory} memory. See the Amazon ECS documentation for the valid values.`;
  const mems = memoryValuesFor(cpu);
  if (!mems) {
    throw clientError(`${head} CPU must be one of ${FARGATE_CPU_VALUES.join(', ')} units.${cpusForMemoryHint(memory)}`);
  }
  throw clientError(`${head} For ${cpu} CPU units, memory must be ${mems.length <= 8 ? 'one of ' : ''}${describeMemory(mems)}.${cpusForMemoryHint(memory)}`);
}

function cpusForMemoryHint(memory: number): string {
  const cpus = FARGATE_SIZES.filter((r) => r.memory.includes(memory)).map((r) => r.cpu);
  return cpus.length ? ` To keep ${memory} MiB of memory, use CPU ${cpus.join(' or ')}.` : '';
}

/** Hourly prices used to rank sizes; defaults are Fargate Linux/x86 us-east-1. */
export interface SizePrices {
  vcpuHour: number;
  gbHour: number;
}
export const DEFAULT_SIZE_PRICES: SizePrices = Object.freeze({ vcpuHour: 0.04048, gbHour: 0.004445 });

/** Hourly price of a size (vCPU = cpu/1024, GB = memory/1024). */
export function hourlyPrice(size: TaskSize, prices: SizePrices = DEFAULT_SIZE_PRICES): number {
  return (size.cpu / 1024) * prices.vcpuHour + (size.memory / 1024) * prices.gbHour;
}

/**
 * The cheapest valid Fargate size with at least `cpu` units and `memory` MiB,
 * or undefined if no size is that large. Ties go to the smaller CPU.
 */
export function cheapestSizeAtLeast(cpu: number, memory: number, prices: SizePrices = DEFAULT_SIZE_PRICES): TaskSize | undefined {
  let best: TaskSize | undefined;
  let bestPrice = Infinity;
  for (const s of allValidSizes()) {
    if (s.cpu < cpu || s.memory < memory) continue;
    const p = hourlyPrice(s, prices);
    if (p < bestPrice - 1e-12) {
      best = s;
      bestPrice = p;
    }
  }
  return best;
}
