/** Time and identity behind interfaces, so tests can control them. */
import { randomBytes } from 'node:crypto';

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

/** A 32-hex-character id, as ECS uses for task ids. */
export function newTaskId(): string {
  return randomBytes(16).toString('hex');
}

/** An AWS-style resource id such as `subnet-0a1b2c3d4e5f60718` (17 hex chars). */
export function newResourceId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}
