/**
 * A task's share of the network (src/network/bandwidth.ts) on the task
 * runner's paths: at start it is decided from the task's size and the
 * operator's --bandwidth-scale, stored on the task, then applied (one `tc`
 * batch); after a restart a running task's stored bandwidth is put back if the
 * host lost it, and a task started before shaping existed is shaped now.
 */
import type { TaskRecord } from '../model/task-record.ts';
import { bandwidthFor, describeBandwidth, sameBandwidth } from '../network/bandwidth.ts';
import type { TaskRunnerDeps } from './task-runner-deps.ts';
import { errMessage } from './start-rules.ts';

type Deps = Pick<TaskRunnerDeps, 'tasks' | 'network' | 'bandwidthScale' | 'log'>;

/** Stores the task's bandwidth, then shapes its network to it; returns how long shaping took, ms. */
export async function shapeAtStart(deps: Deps, task: TaskRecord): Promise<number> {
  const bandwidth = bandwidthFor(task.cpu, deps.bandwidthScale ?? 1);
  deps.tasks.update(task.id, (t) => (t.network.bandwidth = bandwidth), { durable: false });
  const t0 = performance.now();
  await deps.network.shape(task.id, bandwidth);
  return Math.round((performance.now() - t0) * 1000) / 1000;
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
