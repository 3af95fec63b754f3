/**
 * Admission control: what a host can take, in reserved units, never guesses.
 *
 * A host offers CPU units (cores × 1024) and memory in MiB (its total memory
 * minus a reserve for the host itself and Skiff), scaled by the operator's
 * overcommit ratio (1.0: a task's size is really there for it). What is taken
 * is the sum of the sizes of the host's unfinished tasks (last status not
 * STOPPED, including those still stopping), read from the store inside the
 * transaction that stores new tasks: never a counter that could drift, and two
 * concurrent RunTasks cannot both take the last room.
 *
 * `fit` is pure and knows nothing of where the numbers come from, so a fleet
 * (many hosts) asks it once per host with that host's capacity and reservations.
 */

/** CPU units and MiB: a task's size, a host's capacity, or what tasks hold. */
export interface Resources {
  cpu: number;
  memory: number;
}

/** Why a task does not fit, as ECS words it in RunTask's `failures`. */
export type FitFailure = 'RESOURCE:CPU' | 'RESOURCE:MEMORY';

export const CPU_UNITS_PER_CORE = 1024;

/** The facts of a host (node:os cpus().length, totalmem()) and the operator's reserve. */
export interface HostFacts {
  cores: number;
  totalMemoryBytes: number;
  /** MiB kept for the host and Skiff. */
  reservedMemoryMiB: number;
}

/** What a host offers tasks before overcommit: cores × 1024 CPU units; total memory minus the reserve, in MiB (never below 0). */
export function hostCapacity(h: HostFacts): Resources {
  return {
    cpu: Math.max(0, Math.floor(h.cores)) * CPU_UNITS_PER_CORE,
    memory: Math.max(0, Math.floor(h.totalMemoryBytes / 2 ** 20) - h.reservedMemoryMiB),
  };
}

/**
 * Whether `request` fits on a host of `capacity` (before overcommit) whose live
 * tasks already hold `reserved`: undefined when it fits, else the resource that
 * is short (CPU is checked first). The limit is capacity × overcommit, floored
 * to whole units.
 */
export function fit(request: Resources, capacity: Resources, reserved: Resources, overcommit: number): FitFailure | undefined {
  if (reserved.cpu + request.cpu > Math.floor(capacity.cpu * overcommit)) return 'RESOURCE:CPU';
  if (reserved.memory + request.memory > Math.floor(capacity.memory * overcommit)) return 'RESOURCE:MEMORY';
  return undefined;
}

/** The sum of the sizes of `tasks` (the unfinished tasks of a host). */
export function reservedBy(tasks: Iterable<Resources>): Resources {
  const sum = { cpu: 0, memory: 0 };
  for (const t of tasks) {
    sum.cpu += t.cpu;
    sum.memory += t.memory;
  }
  return sum;
}

/** One host's admission: its capacity, the overcommit ratio, and a name for messages. */
export interface HostAdmission {
  /** How the host is named in refusals (its hostname; a container instance's id in a fleet). */
  host: string;
  capacity: Resources;
  overcommit: number;
}

/** The part of a refusal's message after "…has": what is short. */
export function shortOf(reason: FitFailure): string {
  return reason === 'RESOURCE:CPU' ? 'insufficient CPU units available' : 'insufficient memory available';
}

/**
 * A service event for tasks that could not be placed, in ECS's words (the
 * closest matching container instance is this host).
 */
export function unableToPlaceEvent(serviceName: string, host: string, reason: FitFailure): string {
  return `(service ${serviceName}) was unable to place a task because no container instance met all of its requirements. The closest matching container-instance ${host} has ${shortOf(reason)}.`;
}

/** What the host could take at most (capacity × overcommit), for messages and the README's numbers. */
export function limitOf(a: Pick<HostAdmission, 'capacity' | 'overcommit'>): Resources {
  return { cpu: Math.floor(a.capacity.cpu * a.overcommit), memory: Math.floor(a.capacity.memory * a.overcommit) };
}
