/**
 * The host agent: owns one TaskRunner per live task, adopts tasks after a
 * restart, and sweeps host resources left behind by tasks the store says are
 * STOPPED (a crash during teardown). It never touches containers, cgroups or
 * namespaces of tasks it has no record of: those may belong to another Skiff.
 */
import type { StopCodeName } from '../model/task-record.ts';
import { TaskRunner, type TaskRunnerDeps } from './task-runner.ts';
import { StorageWatcher, type StorageSettings } from './storage-watcher.ts';
import { taskIdOfRuntimeId } from '../model/runtime-id.ts';

export class Agent {
  private readonly runners = new Map<string, TaskRunner>();

  /** Stops tasks over their ephemeral storage limit (storage-watcher.ts); made when `storage` settings are given. */
  readonly storage: StorageWatcher | undefined;

  constructor(
    private readonly deps: Omit<TaskRunnerDeps, 'onStopped'>,
    storage?: StorageSettings,
  ) {
    if (storage) {
      this.storage = new StorageWatcher({ tasks: deps.tasks, driver: deps.driver, log: deps.log, stop: (id, code, reason) => this.stop(id, code, reason) }, storage);
      this.storage.start();
    }
  }

  /** Starts running a task whose record (PROVISIONING, desired RUNNING) is already stored. */
  launch(taskId: string): void {
    if (this.runners.has(taskId)) return;
    this.runners.set(taskId, new TaskRunner(taskId, this.runnerDeps(), 'launch'));
  }

  /** Asks a task to stop (its desired status is already stored as STOPPED); `graceMs` replaces the containers' stopTimeout. */
  stop(taskId: string, code: StopCodeName, reason: string, graceMs?: number): void {
    this.runners.get(taskId)?.requestStop(code, reason, graceMs);
  }

  /** Number of tasks with a live runner. */
  get activeCount(): number {
    return this.runners.size;
  }

  /** Number of tasks being started right now. */
  get startingCount(): number {
    let n = 0;
    for (const r of this.runners.values()) if (r.starting) n++;
    return n;
  }

  /** Resolves when the given task's runner has finished (or at once if none). */
  async waitStopped(taskId: string): Promise<void> {
    await this.runners.get(taskId)?.done;
  }

  /**
   * After a (re)start: adopt every task the store has not seen stop, then remove
   * host leftovers of tasks the store knows are STOPPED.
   */
  async recover(): Promise<{ adopted: number; swept: number }> {
    const unfinished = this.deps.tasks.listUnfinished();
    for (const t of unfinished) {
      if (!this.runners.has(t.id)) this.runners.set(t.id, new TaskRunner(t.id, this.runnerDeps(), 'adopt'));
    }
    const swept = await this.sweep();
    return { adopted: unfinished.length, swept };
  }

  private async sweep(): Promise<number> {
    const isStopped = (taskId: string) => this.deps.tasks.get(taskId)?.lastStatus === 'STOPPED';
    let swept = 0;
    for (const id of await this.deps.driver.listContainers()) {
      const taskId = taskIdOfRuntimeId(id);
      if (isStopped(taskId)) {
        await this.deps.driver.destroyContainer(id);
        swept++;
      }
    }
    for (const taskId of await this.deps.driver.listTasks()) {
      if (isStopped(taskId)) {
        await this.deps.driver.destroyTask(taskId);
        swept++;
      }
    }
    for (const taskId of await this.deps.network.listAttached()) {
      if (isStopped(taskId)) {
        await this.deps.network.detach(taskId);
        this.deps.releaseAddress(taskId);
        swept++;
      }
    }
    return swept;
  }

  private runnerDeps(): TaskRunnerDeps {
    return { ...this.deps, onStopped: (id) => this.runners.delete(id) };
  }
}
