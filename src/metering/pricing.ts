/**
 * Fargate prices and the billing rule, in exact decimal arithmetic (big.js).
 *
 * Billing rule (as Fargate): requested vCPU and memory, from the start of the
 * image pull to the task's stop, rounded up to the whole second, minimum 60 s.
 * Ephemeral storage above the included 20 GiB is billed per GB-hour.
 */
import Big from 'big.js';

export interface PriceTable {
  /** USD per vCPU-hour. */
  vcpuHour: string;
  /** USD per GB-hour of memory. */
  gbHour: string;
  /** USD per GB-hour of ephemeral storage above the included amount. */
  storageGbHour: string;
}

/** us-east-1 Linux/x86 on-demand defaults. */
export const US_EAST_1_X86: Readonly<PriceTable> = Object.freeze({ vcpuHour: '0.04048', gbHour: '0.004445', storageGbHour: '0.000111' });
/** us-east-1 Linux/ARM on-demand defaults. */
export const US_EAST_1_ARM: Readonly<PriceTable> = Object.freeze({ vcpuHour: '0.03238', gbHour: '0.00356', storageGbHour: '0.000111' });

export const INCLUDED_STORAGE_GIB = 20;
export const MINIMUM_BILLED_SECONDS = 60;

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

/**
 * Cost in USD of `seconds` at `size`, as a decimal string rounded half-up to
 * COST_DECIMALS places. Products are exact; the one division (by 3600 s/h)
 * comes last, so the only rounding is the final one.
 */
export function costOf(size: UsageSize, seconds: number, prices: PriceTable): string {
  const vcpu = new Big(size.cpuUnits).div(1024); // exact: 1024 is a power of two
  const gb = new Big(size.memoryMiB).div(1024);
  const extraStorage = Math.max(0, size.ephemeralStorageGiB - INCLUDED_STORAGE_GIB);
  const perHour = vcpu
    .times(prices.vcpuHour)
    .plus(gb.times(prices.gbHour))
    .plus(new Big(extraStorage).times(prices.storageGbHour));
  return perHour.times(seconds).div(3600).round(COST_DECIMALS, Big.roundHalfUp).toFixed();
}
