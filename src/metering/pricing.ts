/**
 * Fargate prices and the billing rule, in exact decimal arithmetic (big.js).
 *
 * Billing rule (as Fargate): requested vCPU and memory, from the start of the
 * image pull to the task's stop, rounded up to the whole second, minimum 60 s.
 * Ephemeral storage above the included 20 GiB is billed per GB-hour.
 *
 * The price book holds on-demand hourly prices per CPU architecture, the
 * storage price and the Spot discount. Defaults are us-east-1; an operator
 * replaces them with a JSON file (`skiff server --prices FILE`, or
 * SKIFF_PRICES_FILE), validated by `parsePriceBook`.
 */
import { readFileSync } from 'node:fs';
import Big from 'big.js';

/** Hourly rates for one (architecture, capacity provider): what a task is billed at. */
export interface PriceTable {
  /** USD per vCPU-hour. */
  vcpuHour: string;
  /** USD per GB-hour of memory. */
  gbHour: string;
  /** USD per GB-hour of ephemeral storage above the included amount. */
  storageGbHour: string;
}

export type CpuArchitecture = 'X86_64' | 'ARM64';
export type CapacityProvider = 'FARGATE' | 'FARGATE_SPOT';
export const CPU_ARCHITECTURES: readonly CpuArchitecture[] = Object.freeze(['X86_64', 'ARM64']);
export const CAPACITY_PROVIDERS: readonly CapacityProvider[] = Object.freeze(['FARGATE', 'FARGATE_SPOT']);

/** On-demand compute prices of one architecture. */
export interface ComputePrices {
  vcpuHour: string;
  gbHour: string;
}

/** Every price metering needs. Amounts are decimal strings (exact). */
export interface PriceBook {
  region: string;
  currency: 'USD';
  X86_64: ComputePrices;
  ARM64: ComputePrices;
  /** USD per GB-hour of ephemeral storage above the included 20 GiB (both architectures, both providers). */
  storageGbHour: string;
  /**
   * Fraction taken off vCPU and memory prices for FARGATE_SPOT ("0.7" = 70% off).
   * Storage is billed at the on-demand price on Spot too.
   */
  spotDiscount: string;
}

/** us-east-1 Linux/x86 on-demand defaults. */
export const US_EAST_1_X86: Readonly<PriceTable> = Object.freeze({ vcpuHour: '0.04048', gbHour: '0.004445', storageGbHour: '0.000111' });
/** us-east-1 Linux/ARM on-demand defaults. */
export const US_EAST_1_ARM: Readonly<PriceTable> = Object.freeze({ vcpuHour: '0.03238', gbHour: '0.00356', storageGbHour: '0.000111' });

/** The default price book: us-east-1 Linux, Spot 70% off. */
export const DEFAULT_PRICE_BOOK: Readonly<PriceBook> = Object.freeze({
  region: 'us-east-1',
  currency: 'USD',
  X86_64: Object.freeze({ vcpuHour: US_EAST_1_X86.vcpuHour, gbHour: US_EAST_1_X86.gbHour }),
  ARM64: Object.freeze({ vcpuHour: US_EAST_1_ARM.vcpuHour, gbHour: US_EAST_1_ARM.gbHour }),
  storageGbHour: '0.000111',
  spotDiscount: '0.7',
}) as Readonly<PriceBook>;

export const INCLUDED_STORAGE_GIB = 20;
export const MINIMUM_BILLED_SECONDS = 60;
/** Hours in a billing month, as AWS's pricing pages count them (365 × 24 / 12). */
export const HOURS_PER_MONTH = 730;

/** Whole seconds billed for a run from `fromMs` to `toMs`: rounded up, at least 60. */
export function billedSeconds(fromMs: number, toMs: number): number {
  const seconds = Math.ceil(Math.max(0, toMs - fromMs) / 1000);
  return Math.max(MINIMUM_BILLED_SECONDS, seconds);
}

export interface UsageSize {
  /** ECS CPU units (1024 = 1 vCPU). */
  cpuUnits: number;
  /** MiB (1024 MiB = 1 GB as Fargate bills it). */
  memoryMiB: number;
  ephemeralStorageGiB: number;
}

/** Decimal places kept in a cost: a millionth of a micro-dollar. */
export const COST_DECIMALS = 12;

/** Rounds a USD amount to COST_DECIMALS places, half up, as a plain decimal string. */
export function formatCost(amount: Big): string {
  return amount.round(COST_DECIMALS, Big.roundHalfUp).toFixed();
}

/** Price per hour of `size` at `prices`, exact. */
export function hourlyCost(size: UsageSize, prices: PriceTable): Big {
  const vcpu = new Big(size.cpuUnits).div(1024); // exact: 1024 is a power of two
  const gb = new Big(size.memoryMiB).div(1024);
  const extraStorage = Math.max(0, size.ephemeralStorageGiB - INCLUDED_STORAGE_GIB);
  return vcpu.times(prices.vcpuHour).plus(gb.times(prices.gbHour)).plus(new Big(extraStorage).times(prices.storageGbHour));
}

/**
 * Cost in USD of `seconds` at `size`, as a decimal string rounded half-up to
 * COST_DECIMALS places. Products are exact; the one division (by 3600 s/h)
 * comes last, so the only rounding is the final one.
 */
export function costOf(size: UsageSize, seconds: number, prices: PriceTable): string {
  return formatCost(hourlyCost(size, prices).times(seconds).div(3600));
}

/**
 * The rates a task is billed at: its architecture's on-demand prices, less the
 * Spot discount on vCPU and memory when it runs on FARGATE_SPOT. Exact.
 */
export function ratesFor(book: PriceBook, arch: CpuArchitecture, provider: CapacityProvider | string): PriceTable {
  const p = book[arch] ?? book.X86_64;
  const factor = provider === 'FARGATE_SPOT' ? new Big(1).minus(book.spotDiscount) : new Big(1);
  return {
    vcpuHour: new Big(p.vcpuHour).times(factor).toFixed(),
    gbHour: new Big(p.gbHour).times(factor).toFixed(),
    storageGbHour: book.storageGbHour,
  };
}

// ---------------------------------------------------------------- the operator's file

/** A price file that cannot be used; the message lists every problem and what to write instead. */
export class PriceBookError extends Error {
  constructor(readonly problems: string[], source: string) {
    super(`invalid price table ${source}:\n  - ${problems.join('\n  - ')}\n` +
      `Expected JSON like {"region": "us-east-1", "X86_64": {"vcpuHour": "0.04048", "gbHour": "0.004445"}, ` +
      `"ARM64": {"vcpuHour": "0.03238", "gbHour": "0.00356"}, "storageGbHour": "0.000111", "spotDiscount": "0.7"}; ` +
      `fields left out keep their us-east-1 defaults.`);
    this.name = 'PriceBookError';
  }
}

const DECIMAL = /^\d+(\.\d+)?$/;
const TOP_KEYS = ['region', 'currency', 'X86_64', 'ARM64', 'storageGbHour', 'spotDiscount', 'description'];

/**
 * Validates a price file's parsed JSON and merges it over the defaults. Prices
 * are non-negative decimals (strings, or JSON numbers); spotDiscount is a
 * fraction in [0, 1). Unknown keys are errors (they are usually typos).
 */
export function parsePriceBook(json: unknown, source = '(inline)'): PriceBook {
  const problems: string[] = [];
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PriceBookError(['the file must hold a JSON object'], source);
  }
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!TOP_KEYS.includes(k)) problems.push(`unknown field "${k}" (known: ${TOP_KEYS.join(', ')})`);
  const price = (v: unknown, what: string, fallback: string): string => {
    if (v === undefined) return fallback;
    const s = typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
    if (typeof s !== 'string' || !DECIMAL.test(s.trim())) {
      problems.push(`${what} must be a non-negative decimal such as "0.04048" (got ${JSON.stringify(v)})`);
      return fallback;
    }
    return new Big(s.trim()).toFixed();
  };
  const compute = (v: unknown, what: CpuArchitecture): ComputePrices => {
    const d = DEFAULT_PRICE_BOOK[what];
    if (v === undefined) return { ...d };
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(`${what} must be an object {"vcpuHour": "...", "gbHour": "..."} (got ${JSON.stringify(v)})`);
      return { ...d };
    }
    const c = v as Record<string, unknown>;
    for (const k of Object.keys(c)) if (k !== 'vcpuHour' && k !== 'gbHour') problems.push(`unknown field "${what}.${k}" (known: vcpuHour, gbHour)`);
    return { vcpuHour: price(c.vcpuHour, `${what}.vcpuHour`, d.vcpuHour), gbHour: price(c.gbHour, `${what}.gbHour`, d.gbHour) };
  };
  let region = DEFAULT_PRICE_BOOK.region;
  if (o.region !== undefined) {
    if (typeof o.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(o.region)) problems.push(`region must look like "us-east-1" (got ${JSON.stringify(o.region)})`);
    else region = o.region;
  }
  if (o.currency !== undefined && o.currency !== 'USD') problems.push(`currency must be "USD" (got ${JSON.stringify(o.currency)})`);
  const book: PriceBook = {
    region,
    currency: 'USD',
    X86_64: compute(o.X86_64, 'X86_64'),
    ARM64: compute(o.ARM64, 'ARM64'),
    storageGbHour: price(o.storageGbHour, 'storageGbHour', DEFAULT_PRICE_BOOK.storageGbHour),
    spotDiscount: price(o.spotDiscount, 'spotDiscount', DEFAULT_PRICE_BOOK.spotDiscount),
  };
  if (o.spotDiscount !== undefined && DECIMAL.test(book.spotDiscount) && new Big(book.spotDiscount).gte(1)) {
    problems.push(`spotDiscount is the fraction taken off on Spot and must be below 1, e.g. "0.7" for 70% off (got ${JSON.stringify(o.spotDiscount)})`);
  }
  if (problems.length) throw new PriceBookError(problems, source);
  return deepFreeze(book);
}

/** Reads and validates a price file; errors say which file and what is wrong. */
export function loadPriceBook(file: string): PriceBook {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PriceBookError([`cannot read it: ${(e as Error).message}`], file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PriceBookError([`it is not valid JSON: ${(e as Error).message}`], file);
  }
  return parsePriceBook(json, file);
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) Object.freeze(v);
  return Object.freeze(o);
}
