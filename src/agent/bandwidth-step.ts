/**
 * A task's share of the network (src/network/bandwidth.ts) on the task
 * runner's paths: at start it is decided from the task's size and the
 * operator's --bandwidth-scale, stored on the task, then applied (one `tc`
 * batch); after a restart a running task's stored bandwidth is put back if the
 * host lost it, and a task started before shaping existed is shaped now.
 */
import type { PhaseTiming, TaskBandwidth, TaskRecord } from '../model/task-record.ts';
import { bandwidthFor, describeBandwidth, sameBandwidth } from '../network/bandwidth.ts';
import type { TaskRunnerDeps } from './task-runner-deps.ts';
import { StartError, errMessage } from './start-rules.ts';

type Deps = Pick<TaskRunnerDeps, 'tasks' | 'network' | 'bandwidthScale' | 'log' | 'clock'>;

/** The bandwidth a task starting now gets: its size in the table, times the operator's scale. */
export function bandwidthAtStart(deps: Pick<Deps, 'bandwidthScale'>, task: TaskRecord): TaskBandwidth {
  return bandwidthFor(task.cpu, deps.bandwidthScale ?? 1);
}

/**
 * Shapes a starting task's network to `bandwidth` (already stored on the task),
 * timed as the `shaping` phase. Runs beside container create; the runner awaits
 * it before any container starts, so no byte leaves unshaped.
 */
export async function shapeAtStart(deps: Pick<Deps, 'network' | 'clock'>, taskId: string, bandwidth: TaskBandwidth): Promise<PhaseTiming> {
  const startedAt = deps.clock.now();
  const t0 = performance.now();
  await deps.network.shape(taskId, bandwidth);
  return { phase: 'shaping', startedAt, durationMs: Math.round((performance.now() - t0) * 1000) / 1000 };
}

/** What must be in place before a task's first container starts: its security-group entries, then its shaping (their timings). */
export async function networkReadyTimings(firewall: Promise<PhaseTiming> | undefined, shaping: Promise<PhaseTiming> | undefined): Promise<PhaseTiming[]> {
  const ready: PhaseTiming[] = [];
  try {
    if (firewall) ready.push(await firewall);
  } catch (err) {
    throw new StartError(`ResourceInitializationError: cannot apply the task's security groups: ${errMessage(err)}`);
  }
  try {
    if (shaping) ready.push(await shaping);
  } catch (err) {
    throw new StartError(`ResourceInitializationError: cannot shape the task's network to its bandwidth: ${errMessage(err)}`);
  }
  return ready;
}

/** For an adopted running task: shapes it again when the host does not hold its bandwidth. Never throws (logs). */
export async function restoreShaping(deps: Deps, task: TaskRecord): Promise<void> {
  try {
    let want = task.network.bandwidth;
    if (!want) {
      want = bandwidthFor(task.cpu, deps.bandwidthScale ?? 1);
      const stored = want;
      deps.tasks.update(task.id, (t) => (t.network.bandwidth = stored));
    }
    const have = await deps.network.shaping(task.id);
    if (have && sameBandwidth(have, want)) return;
    await deps.network.shape(task.id, want);
    deps.log(`task ${task.id}: its traffic was ${have ? `shaped to ${describeBandwidth(have)}` : 'not shaped'}; shaped to ${describeBandwidth(want)} again`);
  } catch (err) {
    deps.log(`task ${task.id}: cannot restore its bandwidth shaping: ${errMessage(err)}`);
  }
}
