/**
 * The control plane above the agent, in dependency order: the load balancers
 * (reading services from the store), the "services changed" signal, the Spot
 * reclaimer and the service scheduler (draining through the load balancers,
 * woken by the signal), then what the ECS API handlers are given, and the
 * autoscaler, which changes desired counts through those same handlers.
 */
import { cpus, hostname, totalmem } from 'node:os';
import type { ServerConfig } from '../config/server-config.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';
import type { ArnContext } from '../ecs/arns.ts';
import type { Agent } from '../agent/agent.ts';
import type { WarmPool } from '../network/warm-pool.ts';
import type { DiskGuard } from '../store/disk-guard.ts';
import { ChangeSignal } from '../scheduler/signal.ts';
import { ServiceScheduler } from '../scheduler/service-scheduler.ts';
import { SpotReclaimer } from '../scheduler/spot.ts';
import { hostCapacity, limitOf, type HostAdmission } from '../scheduler/capacity.ts';
import type { IsolationDeps } from '../scheduler/placement.ts';
import type { DrainTask } from '../scheduler/applier.ts';
import { LoadBalancers } from '../lb/load-balancers.ts';
import { loadBalancerSource } from '../lb/store-source.ts';
import type { EcsApiDeps } from '../control/ecs-protocol.ts';
import { Autoscaler } from '../autoscaling/autoscaler.ts';
import { AutoscalingRepo } from '../autoscaling/repo.ts';

export interface ControlPlane {
  loadBalancers: LoadBalancers;
  spot: SpotReclaimer;
  services: ServiceScheduler;
  /** What the ECS API handlers are given. */
  ecs: EcsApiDeps;
  autoscalingRepo: AutoscalingRepo;
  autoscaler: Autoscaler;
}

export interface ControlPlaneDeps {
  repos: Repos;
  agent: Agent;
  warmPool: WarmPool;
  /** New tasks are refused while the data dir's disk is (nearly) full. */
  disk: Pick<DiskGuard, 'newTasksRefusal'>;
  arns: ArnContext;
  clock: Clock;
  log: (msg: string) => void;
  /** What each runtime can do on this host (for the isolation a task gets). */
  runtimes: IsolationDeps['runtimes'];
}

export function buildControlPlane(c: Readonly<ServerConfig>, { repos, agent, warmPool, disk, arns, clock, log, runtimes }: ControlPlaneDeps): ControlPlane {
  const loadBalancers = new LoadBalancers(loadBalancerSource({ ...repos, clock }, log), c.loadBalancers, log);
  const drain: DrainTask = (serviceId, taskId) => loadBalancers.drain(serviceId, taskId);
  const servicesChanged = new ChangeSignal();
  // Admission control: this host's CPU units and memory (minus the operator's reserve) × overcommit.
  const admission: HostAdmission = { host: hostname(), capacity: hostCapacity({ cores: cpus().length, totalMemoryBytes: totalmem(), reservedMemoryMiB: c.reservedMemoryMiB }), overcommit: c.overcommit };
  const limit = limitOf(admission);
  log(`admission: tasks may reserve ${limit.cpu} CPU units and ${limit.memory} MiB (host capacity × overcommit ${c.overcommit})`);
  const isolation: IsolationDeps = { serverDefault: c.isolation, runtimes };
  const scheduling = { ...repos, clock, arns, agent, warmPool, disk, admission, isolation };
  const spot = new SpotReclaimer(
    { tasks: repos.tasks, clock, agent, servicesChanged },
    { warningMs: c.services.spotWarningMs, interruptionRatePerHour: c.services.spotInterruptionRatePerHour, log },
  );
  const services = new ServiceScheduler(scheduling, {
    intervalMs: c.services.intervalMs,
    maxStartsPerPass: c.services.maxStartsPerPass,
    log,
    wakeOn: servicesChanged,
    afterPass: () => spot.tick(),
    drain,
    targetHealth: (serviceId) => loadBalancers.targetHealth(serviceId),
  });
  const ecs: EcsApiDeps = { ...scheduling, drain, servicesChanged, loadBalancers };
  const autoscalingRepo = new AutoscalingRepo(repos.db);
  const autoscaler = new Autoscaler(ecs, autoscalingRepo, repos.metering, { settings: c.autoscaling, log });
  return { loadBalancers, spot, services, ecs, autoscalingRepo, autoscaler };
}
