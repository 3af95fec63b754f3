/**
 * One task's life on this host, from PROVISIONING to STOPPED.
 *
 * The runner is the only writer of the task's known status (`lastStatus`); the
 * API writes only the desired status and tells the runner. Every step persists
 * what it is about to do before doing it, and every step is idempotent, so a
 * runner created after a restart can adopt a running task or finish a teardown.
 *
 * Start steps, each timed (the cold-start breakdown):
 *   network (namespace + veth + address, or a ready one from the warm pool; shaped to the task's bandwidth)
 *   ‖ image pull ‖ cgroup  →  containers in dependsOn order (create, start)  →  RUNNING
 *
 * Durability on the start path: the task record (PROVISIONING, its address) is
 * stored durably by RunTask before the runner exists, and everything a start
 * makes on the host is named after the task id, so a restart tears down a task
 * that had not reached RUNNING from the id alone. The progress written while
 * starting (ATTACHING, PENDING, ACTIVATING, timings, pull timestamps, container
 * RUNNING) is therefore committed without waiting for the disk; losing it to a
 * power cut changes nothing recovery does. RUNNING itself is committed durably
 * (and with it everything before it), because clients act on it. Stop steps are
 * all durable: recovery finishes a stop from what they record.
 * Stop steps: DEACTIVATING → STOPPING (stop signal, SIGKILL after stopTimeout,
 * dependents first) → DEPROVISIONING (destroy containers, cgroup, namespace,
 * release address) → STOPPED (with billing).
 *
 * A full disk (store/disk-errors.ts): a write that fails for lack of disk is
 * retried until the store takes it (`persist`) when it records something that
 * happened (a step's timing, a container started or exited, RUNNING, every stop
 * step, releasing the address), so the task is neither lost, nor stopped for
 * it, nor left half-stopped; only the marks written before a step
 * (ATTACHING, PENDING, ACTIVATING, pull times) fail the start when they fail.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerExit, ContainerLaunchSpec } from '../drivers/driver.ts';
import type { PulledImage } from '../images/images.ts';
import type { TaskAttachment } from '../network/network.ts';
import type { ContainerRecord, StopCodeName, TaskRecord, TaskStatusName, PhaseTiming } from '../model/task-record.ts';
import { hasReached as reached, OOM_CONTAINER_REASON, StopReason } from '../model/task-status.ts';
import { HealthChecker } from './health-checker.ts';
import { billedSeconds, costOf, ratesFor } from '../metering/pricing.ts';
import { retryWhileDiskFull, WriteFailureNotice } from '../store/disk-errors.ts';
import { bandwidthAtStart, networkReadyTimings, restoreShaping, shapeAtStart } from './bandwidth-step.ts';
import type { StopRequest, TaskRunnerDeps } from './task-runner-deps.ts';
import {
  StartError,
  dependencyVerdict,
  errMessage,
  launchSpecFor,
  pidsLimitFor,
  recordHealth,
  startFailureReason,
  stopWaves,
  stopSignalOf,
  writeNameFiles,
} from './start-rules.ts';

export type { TaskRunnerDeps } from './task-runner-deps.ts';


export class TaskRunner {
  /** The task's firewall being installed (deps.networkReady), with its timing: every container start waits for it. */
  /** The security groups' entries and the bandwidth shaping, made beside container create; awaited before a container starts. */
  private firewall: Promise<PhaseTiming> | undefined;
  private shaping: Promise<PhaseTiming> | undefined;
  private networkReadyRecorded = false;
  private stopRequest: StopRequest | undefined;
  /** True while a launched task is starting (until RUNNING or a failed start). */
  starting: boolean;
  private wakeUp: () => void = () => {};
  private readonly images = new Map<string, PulledImage>();
  /** Each container's environment from its task identity (secrets included): memory only, never stored. */
  private identityEnv = new Map<string, Record<string, string>>();
  /** Each container's persistent volume mounts (deps.volumes), made ready at start. */
  private volumeMounts = new Map<string, NonNullable<ContainerLaunchSpec['extraMounts']>>();
  private readonly health = new HealthChecker({
    exec: (id, args, timeoutMs) => this.deps.driver.exec(id, args, { timeoutMs }),
    running: (name) => this.task.containers.find((x) => x.name === name)?.lastStatus === 'RUNNING' && !this.stopRequest,
    record: (name, status) => {
      try {
        this.update((t) => recordHealth(t, name, status, this.deps.clock.now()));
      } catch (err) {
        if (!this.writes.failed(err)) throw err; // the next change is recorded once the disk takes writes
      }
      this.wakeUp();
    },
    log: (msg) => this.deps.log(`task ${this.taskId}: ${msg}`),
  });
  /** Resolves when the runner has finished (task STOPPED). */
  readonly done: Promise<void>;
  private readonly writes: WriteFailureNotice;

  constructor(
    private readonly taskId: string,
    private readonly deps: TaskRunnerDeps,
    mode: 'launch' | 'adopt',
  ) {
    this.starting = mode === 'launch';
    this.writes = new WriteFailureNotice(`task ${taskId}: storing its state`, deps.log);
    this.done = (mode === 'launch' ? this.launch() : this.adopt()).catch((err) => {
      deps.log(`task ${taskId}: runner failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
    });
  }

  /** Asks the task to stop; the first request's code and reason win. */
  requestStop(code: StopCodeName, reason: string, graceMs?: number): void {
    this.stopRequest ??= { code, reason, graceMs };
    this.wakeUp();
  }

  private get task(): TaskRecord {
    const t = this.deps.tasks.get(this.taskId);
    if (!t) throw new Error(`task ${this.taskId} vanished from the store`);
    return t;
  }

  /** `durable: false` only for start-path progress (see the header). */
  private update(mutate: (t: TaskRecord) => void, durable = true): TaskRecord {
    return this.deps.tasks.update(this.taskId, mutate, { durable });
  }

  private setStatus(status: TaskStatusName, extra: (t: TaskRecord) => void = () => {}, durable = true): void {
    this.update((t) => {
      if (!reached(t.lastStatus, status)) t.lastStatus = status;
      extra(t);
    }, durable);
  }

  /** A state write that must not be lost: retried until the store takes it (a full disk, see the header). */
  private persist<T>(write: () => T): Promise<T> {
    return retryWhileDiskFull(write, this.writes);
  }

  /** Runs one start step and records its timing (start-path progress: not durable). */
  private async timed<T>(phase: string, fn: () => Promise<T>, detail?: (r: T) => PhaseTiming['detail']): Promise<T> {
    const startedAt = this.deps.clock.now();
    const t0 = performance.now();
    const result = await fn();
    const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
    await this.persist(() => this.update((t) => t.timings.push({ phase, startedAt, durationMs, ...(detail ? { detail: detail(result) } : {}) }), false));
    return result;
  }

  // ---------------------------------------------------------------- launch

  private async launch(): Promise<void> {
    try {
      await this.start();
    } catch (err) {
      const reason = startFailureReason(err);
      this.deps.log(`task ${this.taskId}: failed to start: ${reason}`);
      this.requestStop('TaskFailedToStart', reason);
    } finally {
      this.starting = false;
    }
    await this.superviseUntilStop();
    await this.teardown();
  }

  private async start(): Promise<void> {
    const task = this.task;
    const warm = this.deps.warmAttachment?.(task.id);
    if (task.desiredStatus === 'STOPPED') return;

    // Network, image and cgroup do not depend on each other: all three at once.
    const network = this.timed(
      'network',
      async () => {
        let att = warm;
        if (!att) {
          this.update((t) => (t.network.status = 'ATTACHING'), false);
          const subnet = this.deps.subnet(task.network.subnetId);
          await this.deps.network.ensureSubnet(subnet);
          att = await this.deps.network.attach(task.id, subnet, task.network.ipv4);
        }
        const ready = this.deps.networkReady;
        if (ready) {
          const startedAt = this.deps.clock.now();
          const t0 = performance.now();
          this.firewall = ready(task.id, att).then(() => ({ phase: 'firewall', startedAt, durationMs: Math.round((performance.now() - t0) * 1000) / 1000 }));
          this.firewall.catch(() => {}); // awaited before any container starts
        }
        const mac = att.macAddress;
        const bandwidth = bandwidthAtStart(this.deps, task);
        this.setStatus('PENDING', (t) => {
          t.network.status = 'ATTACHED';
          t.network.macAddress = mac;
          t.network.bandwidth = bandwidth; // stored before it is applied: adoption puts it back
          t.connectivityAt = this.deps.clock.now();
        }, false);
        this.shaping = shapeAtStart(this.deps, task.id, bandwidth);
        this.shaping.catch(() => {}); // awaited before any container starts
        return att;
      },
      () => ({ warmPool: warm !== undefined }),
    );
    const pull = this.pullImages(task);
    const cgroup = this.timed('cgroup', () =>
      this.deps.driver.createTask(task.id, { cpuUnits: task.cpu, memoryMiB: task.memory, pidsLimit: pidsLimitFor(task.memory) }),
    );
    // Settle all three before failing, so teardown never races a step still making something.
    const identity = this.timed('secrets', async () => (this.identityEnv = (await this.deps.identity?.prepare(task)) ?? new Map()));
    const volumes = this.deps.volumes?.has(task) && this.timed('volumes', async () => (this.volumeMounts = await this.deps.volumes!.prepare(task)));
    const [attached, ...rest] = await Promise.allSettled([network, pull, cgroup, identity, volumes]);
    for (const r of [attached, ...rest]) if (r.status === 'rejected') throw r.reason;
    const attachment = (attached as PromiseFulfilledResult<TaskAttachment>).value;
    if (this.stopRequest) return;

    this.setStatus('ACTIVATING', () => {}, false);
    await this.deps.beforeContainers?.(this.task);
    const mounts = writeNameFiles(this.deps.taskFilesDir, this.deps.region, task, attachment.gateway);
    await this.startContainersInOrder(attachment.netnsPath, mounts);
    if (this.stopRequest) return;
    await this.persist(() => this.setStatus('RUNNING', (t) => (t.startedAt = this.deps.clock.now())));
  }

  private async pullImages(task: TaskRecord): Promise<void> {
    const refs = [...new Set(task.containers.map((c) => c.image))];
    this.update((t) => (t.pullStartedAt = this.deps.clock.now()), false);
    try {
      await this.timed(
        'image-pull',
        async () => {
          const pulled = await Promise.all(
            refs.map((ref) =>
              (this.deps.imagesFor?.(task.isolation) ?? this.deps.images).pull(ref, {
                maxUnpackedBytes: task.ephemeralStorageGiB * 1024 ** 3,
                credentials: this.deps.registryCredentials(ref),
              }),
            ),
          );
          pulled.forEach((p, i) => this.images.set(refs[i], p));
          return pulled;
        },
        (pulled) => ({
          images: pulled.length,
          layers: pulled.reduce((n, p) => n + p.layerCount, 0),
          cachedLayers: pulled.reduce((n, p) => n + p.cachedLayers, 0),
          sizeBytes: pulled.reduce((n, p) => n + p.sizeBytes, 0),
          downloadedBytes: pulled.reduce((n, p) => n + p.downloadedBytes, 0),
          resolveMs: Math.max(...pulled.map((p) => p.timings.resolveMs)),
          downloadMs: Math.max(...pulled.map((p) => p.timings.downloadMs)),
          unpackMs: Math.max(...pulled.map((p) => p.timings.unpackMs)),
        }),
      );
    } finally {
      this.update((t) => {
        t.pullStoppedAt = this.deps.clock.now();
        for (const c of t.containers) c.imageDigest = this.images.get(c.image)?.manifestDigest ?? c.imageDigest;
      }, false);
    }
  }

  /** Waits for the firewall entries and the shaping; recorded once, after the steps before them, so they keep their place in the list. */
  private async networkReady(): Promise<void> {
    const ready = await networkReadyTimings(this.firewall, this.shaping);
    if (!this.networkReadyRecorded && ready.length) {
      this.networkReadyRecorded = true;
      this.update((t) => t.timings.push(...ready), false);
    }
  }

  /** Starts containers as dependsOn allows: START once the dependency started, COMPLETE once it exited, SUCCESS on exit 0, HEALTHY once healthy. */
  private async startContainersInOrder(netnsPath: string, mounts: ContainerLaunchSpec['extraMounts']): Promise<void> {
    for (;;) {
      if (this.stopRequest) return;
      const task = this.task;
      const pending = task.containers.filter((c) => c.lastStatus === 'PENDING');
      if (pending.length === 0) return;
      const byName = new Map(task.containers.map((c) => [c.name, c]));
      const ready: ContainerRecord[] = [];
      for (const c of pending) {
        const verdict = dependencyVerdict(c, byName);
        if (verdict === 'failed') {
          throw new StartError(
            `ResourceInitializationError: dependency of container ${c.name} did not meet its condition (dependsOn ${c.dependsOn
              .map((d) => `${d.containerName}:${d.condition}`)
              .join(', ')})`,
          );
        }
        if (verdict === 'ready') ready.push(c);
      }
      if (ready.length === 0) {
        // Waiting for a dependency to complete: wake on the next container exit or stop request.
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        continue;
      }
      await Promise.all(ready.map((c) => this.startContainer(c, netnsPath, mounts)));
    }
  }

  private async startContainer(c: ContainerRecord, netnsPath: string, mounts: ContainerLaunchSpec['extraMounts']): Promise<void> {
    const task = this.task;
    const image = this.images.get(c.image);
    if (!image) throw new Error(`image ${c.image} was not pulled`);
    const spec = launchSpecFor(task, c, image, this.identityEnv.get(c.name), this.deps.region, netnsPath, [...(mounts ?? []), ...(this.volumeMounts.get(c.name) ?? [])]);
    await this.timed(`container-create:${c.name}`, async () => {
      try {
        return await this.deps.driver.createContainer(spec);
      } catch (err) {
        throw new StartError(`CannotCreateContainerError: ${errMessage(err)}`);
      }
    });
    await this.networkReady();
    await this.timed(`container-start:${c.name}`, async () => {
      try {
        await this.deps.driver.startContainer(c.runtimeId);
      } catch (err) {
        throw new StartError(`CannotStartContainerError: ${errMessage(err)}`);
      }
    });
    await this.persist(() =>
      this.update((t) => {
        const rec = t.containers.find((x) => x.name === c.name)!;
        rec.lastStatus = 'RUNNING';
        rec.startedAt = this.deps.clock.now();
        rec.stopSignal = stopSignalOf(image.config.stopSignal);
      }, false),
    );
    this.watchExit(c);
    this.health.watch(c);
  }

  /** Records the container's exit when it happens; an essential container's exit stops the task. */
  private watchExit(c: ContainerRecord): void {
    this.deps.driver.waitContainer(c.runtimeId).then(
      (exit) => this.persist(() => this.onContainerExit(c.name, exit)),
      (err) => this.deps.log(`task ${this.taskId}: waiting for container ${c.name} failed: ${errMessage(err)}`),
    ).catch((err) => this.deps.log(`task ${this.taskId}: recording the exit of container ${c.name} failed: ${errMessage(err)}`));
  }

  private onContainerExit(name: string, exit: ContainerExit): void {
    const task = this.update((t) => {
      const rec = t.containers.find((x) => x.name === name)!;
      if (rec.lastStatus === 'STOPPED') return;
      rec.lastStatus = 'STOPPED';
      rec.exitCode = exit.exitCode;
      if (exit.oomKilled) rec.reason = OOM_CONTAINER_REASON;
    });
    const rec = task.containers.find((x) => x.name === name)!;
    if (rec.essential && !this.stopRequest) {
      this.requestStop('EssentialContainerExited', StopReason.EssentialContainerExited);
    } else if (task.containers.every((x) => x.lastStatus === 'STOPPED')) {
      this.requestStop('EssentialContainerExited', StopReason.EssentialContainerExited);
    }
    this.wakeUp();
  }

  private async superviseUntilStop(): Promise<void> {
    while (!this.stopRequest) {
      await new Promise<void>((resolve) => (this.wakeUp = resolve));
    }
  }

  // ---------------------------------------------------------------- adopt

  /**
   * Picks a task up after a restart: supervise it if it runs, finish it if it was
   * stopping, start it if it was accepted (or starting) and is still wanted.
   */
  private async adopt(): Promise<void> {
    const task = this.task;
    if (task.desiredStatus === 'STOPPED' || reached(task.lastStatus, 'DEACTIVATING')) {
      // A stored deadline (a Spot warning) still holds: only what is left of it.
      const graceMs = task.stopDeadline === undefined ? undefined : Math.max(0, task.stopDeadline - this.deps.clock.now());
      this.stopRequest = { code: task.stopCode ?? 'UserInitiated', reason: task.stoppedReason ?? StopReason.UserInitiated, graceMs };
    } else if (!reached(task.lastStatus, 'RUNNING')) {
      // Accepted, perhaps half started, never RUNNING: start it afresh through the launch path.
      this.starting = true;
      try {
        await this.clearInterruptedStart();
      } catch (err) {
        this.starting = false;
        throw err;
      }
      return this.launch();
    } else {
      await restoreShaping(this.deps, task);
      let lost = 0;
      for (const c of task.containers.filter((x) => x.lastStatus === 'RUNNING')) {
        const state = await this.deps.driver.inspect(c.runtimeId);
        if (state.status === 'running' || state.status === 'created') {
          this.watchExit(c);
          this.health.watch(c);
        } else if (state.exit) {
          await this.persist(() => this.onContainerExit(c.name, state.exit!)); // exited while the server was down
        } else {
          lost++;
          await this.persist(() =>
            this.update((t) => {
              const rec = t.containers.find((x) => x.name === c.name)!;
              rec.lastStatus = 'STOPPED';
              rec.reason = 'Container was not found on the host when the Skiff server restarted';
            }),
          );
        }
      }
      if (lost > 0) {
        this.requestStop('TerminationNotice', 'Task stopped: its containers were not found when the Skiff server restarted');
      }
    }
    await this.superviseUntilStop();
    await this.teardown();
  }

  /**
   * Before restarting a start the server did not finish: remove what it may have
   * made that a start does not reuse (its containers, even one already running,
   * and the cgroup; all named by the task id, so this touches nothing else) and
   * put the record's containers back to PENDING, durably. The namespace stays:
   * `attach` reuses a complete one and rebuilds a half-made one; the address
   * stays the task's. One runner per task id and containers destroyed before
   * any is created again: the task never runs twice.
   */
  private async clearInterruptedStart(): Promise<void> {
    const task = this.task;
    this.deps.log(`task ${task.id}: the server restarted while the task was ${task.lastStatus}; starting it again`);
    for (const c of task.containers) await this.deps.driver.destroyContainer(c.runtimeId);
    await this.deps.driver.destroyTask(task.id);
    this.update((t) => {
      t.timings = [];
      for (const c of t.containers) {
        c.lastStatus = 'PENDING';
        delete c.exitCode;
        delete c.reason;
        delete c.startedAt;
        delete c.healthStatus;
      }
    });
  }

  // ---------------------------------------------------------------- stop

  private async teardown(): Promise<void> {
    const req = this.stopRequest!;
    this.health.stopAll();
    await this.persist(() =>
      this.setStatus('DEACTIVATING', (t) => {
        t.desiredStatus = 'STOPPED';
        t.stopCode ??= req.code;
        t.stoppedReason ??= req.reason;
        t.stoppingAt ??= this.deps.clock.now();
      }),
    );
    await this.persist(() => this.setStatus('STOPPING'));
    await this.stopContainers();
    await this.persist(() =>
      this.setStatus('DEPROVISIONING', (t) => {
        t.executionStoppedAt ??= this.deps.clock.now();
        for (const c of t.containers) if (c.lastStatus !== 'STOPPED') c.lastStatus = 'STOPPED';
      }),
    );
    await this.releaseResources();
    const now = this.deps.clock.now();
    await this.persist(() => this.setStatus('STOPPED', (t) => {
      t.stoppedAt = now;
      t.network.status = 'DELETED';
      if (t.pullStartedAt !== undefined) {
        const seconds = billedSeconds(t.pullStartedAt, t.executionStoppedAt ?? now);
        const size = { cpuUnits: t.cpu, memoryMiB: t.memory, ephemeralStorageGiB: t.ephemeralStorageGiB };
        t.billing = {
          billedSeconds: seconds,
          cost: costOf(size, seconds, ratesFor(this.deps.prices, t.cpuArchitecture, t.capacityProviderName)),
          vcpu: t.cpu / 1024,
          memoryGiB: t.memory / 1024,
        };
      }
    }));
    this.deps.onStopped(this.taskId);
  }

  /** Stops running containers, dependents before the containers they depend on. */
  private async stopContainers(): Promise<void> {
    const byName = new Map(this.task.containers.map((c) => [c.name, c]));
    for (const wave of stopWaves(this.task.containers)) await Promise.all(wave.map((n) => this.stopContainer(byName.get(n)!)));
  }

  private async stopContainer(c: ContainerRecord): Promise<void> {
    const state = await this.deps.driver.inspect(c.runtimeId);
    if (state.status === 'missing') return;
    let exit: ContainerExit | undefined = state.exit;
    if (state.status === 'running' || state.status === 'created') {
      const signal = c.stopSignal ?? 'SIGTERM';
      exit = await this.deps.driver.stopContainer(c.runtimeId, signal, this.stopRequest?.graceMs ?? c.stopTimeoutSec * 1000);
    }
    if (exit) await this.persist(() => this.onContainerExit(c.name, exit));
  }

  private async releaseResources(): Promise<void> {
    const task = this.task;
    for (const c of task.containers) await this.deps.driver.destroyContainer(c.runtimeId);
    await this.deps.driver.destroyTask(task.id);
    await this.persist(() => this.update((t) => (t.network.status = 'DETACHING')));
    await this.deps.network.detach(task.id);
    await this.persist(() => this.deps.releaseAddress(task.id));
    await this.deps.volumes?.release(task.id);
    rmSync(join(this.deps.taskFilesDir, task.id), { recursive: true, force: true });
    await this.persist(() => this.deps.identity?.release(task.id));
  }
}
