/**
 * `skiff server`: the control plane and the local agent in one process, over the
 * same interfaces they would use across hosts. This is the composition root:
 * the one place objects are made, each from what was made before it, and
 * nothing is changed after it was made.
 *
 * Build order (each step a module of this folder): host (preflight refuses
 * before anything is created) → store (disk guard, repos, default cluster, VPC
 * and subnets) → identity (master key, API keys, secrets, task identity) → agent
 * side (DNS, images, logs, firewall, agent, warm pool) → control plane (load
 * balancers, service scheduler, Spot, the ECS handlers' dependencies,
 * autoscaler) → HTTP API.
 *
 * Start order: metadata endpoint → warm-pool and agent recovery (adopt running
 * tasks) → load balancers, firewall, service scheduler (they see the adopted
 * tasks) → DNS, autoscaler, stats, logs → HTTP, answering `/healthz` with 200
 * from then on.
 */
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config/server-config.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { useSpawnHelper } from '../util/exec.ts';
import type { Repos } from '../store/repos.ts';
import type { DiskGuard } from '../store/disk-guard.ts';
import { StatsSampler } from '../stats/sampler.ts';
import { PlatformMetrics } from '../metrics/platform-metrics.ts';
import { prepareHost } from './host.ts';
import { arnsOf, openStore, toSubnetSpec } from './store.ts';
import { buildIdentity, type Identity } from './identity.ts';
import { buildAgentSide, type AgentSide } from './agent-side.ts';
import { buildControlPlane, type ControlPlane } from './control-plane.ts';
import { buildHttpApi } from './http-api.ts';
import { attachExecStream } from '../exec/stream-route.ts';
import { acquireServerLock, releaseServerLock } from './server-lock.ts';

/** What start() made, for close(). */
interface Running {
  repos: Repos;
  disk: DiskGuard;
  identity: Identity;
  agentSide: AgentSide;
  control: ControlPlane;
  sampler?: StatsSampler;
  app?: FastifyInstance;
  closeExec?: () => void;
}

export class SkiffServer {
  private ready = false;
  private running: Running | undefined;
  /** The URL the API is served on, once listening. */
  endpoint = '';

  constructor(
    private readonly config: Readonly<ServerConfig>,
    private readonly log: (msg: string) => void = (m) => console.error(m),
    private readonly clock: Clock = systemClock,
  ) {}

  async start(): Promise<string> {
    const { config: c, log, clock } = this;
    useSpawnHelper(true);
    const host = await prepareHost(c, log); // preflight first: a refused start creates nothing, not even the data dir
    acquireServerLock(c.dataDir); // `skiff host reset` refuses while this server runs (server-lock.ts)
    const metrics = new PlatformMetrics(clock.now());
    const { repos, disk } = await openStore(c, clock, metrics.observeTask, log);
    host.driver.bindTasks((taskId) => repos.tasks.get(taskId)?.isolation);
    const identity = buildIdentity(c, repos, disk, host.driver, log);
    const agentSide = buildAgentSide(c, { host, repos, identity: identity.taskIdentity, metrics, clock, log });
    const { agent, warmPool } = agentSide;
    const control = buildControlPlane(c, { repos, agent, warmPool, disk, arns: arnsOf(c), clock, log, runtimes: host.driver });
    const running: Running = (this.running = { repos, disk, identity, agentSide, control });
    const { app, execSessions } = await buildHttpApi(c, { host, repos, identity, agentSide, control, disk, metrics, clock, log, isReady: () => this.ready, streamBase: () => this.endpoint.replace(/^http/, 'ws') });
    running.app = app;
    running.closeExec = attachExecStream(app.server, { sessions: execSessions, startExec: (id, args, o) => host.driver.startExec(id, args, o), log });

    await identity.taskIdentity.start(); // before adoption and new starts: tasks reach their metadata from the start
    const pooled = await warmPool.recover();
    if (pooled) log(`removed ${pooled} warm-pool namespace(s) left by the previous run`);
    const { adopted, swept } = await agent.recover();
    if (adopted || swept) log(`recovered ${adopted} task(s) from the store, removed ${swept} leftover(s)`);
    control.loadBalancers.start(); // after adoption: listeners come back with the running, healthy tasks as targets
    agentSide.enforcer.start(); // re-applies every adopted task's firewall
    control.services.start(); // after adoption: it reads what the adopted tasks really are
    const { networks } = repos;
    await agentSide.dns.listenOnExisting(networks.subnets().map((s) => toSubnetSpec(s, networks)));
    control.autoscaler.start();
    // Warm the subnet a RunTask without a network configuration uses first.
    const first = networks.subnets().find((s) => s.isDefault && networks.roomFor(s) > 0);
    if (first) warmPool.warm(first.id);
    running.sampler = new StatsSampler({ tasks: repos.tasks, metering: repos.metering, clock, readUsage: (id) => host.driver.taskStats(id), intervalMs: c.statsIntervalMs, log });
    running.sampler.start();
    agentSide.logs.start(); // after adoption: it follows the adopted tasks' files from their stored offsets
    const address = await app.listen({ host: c.host, port: c.port });
    this.endpoint = address.replace('[::1]', 'localhost');
    this.ready = true;
    return this.endpoint;
  }

  /** Stops serving. Running tasks keep running (their containers outlive the server). */
  async close(): Promise<void> {
    this.ready = false;
    const r = this.running;
    if (!r) {
      useSpawnHelper(false);
      releaseServerLock(this.config.dataDir);
      return;
    }
    r.control.services.close();
    r.control.autoscaler.close();
    await r.control.loadBalancers.close();
    r.agentSide.enforcer.stop();
    // Pooled namespaces belong to no task: remove them (tasks keep running).
    await r.agentSide.warmPool.drain().catch((e) => this.log(`draining the warm pool failed: ${e instanceof Error ? e.message : e}`));
    useSpawnHelper(false);
    await r.agentSide.dns.close();
    await r.sampler?.stop();
    r.closeExec?.();
    await r.app?.close();
    await r.identity.taskIdentity.close().catch((e) => this.log(`closing the metadata endpoint failed: ${e instanceof Error ? e.message : e}`));
    await r.agentSide.logs.close();
    r.identity.auth.audit.close();
    await r.disk.stop();
    r.repos.db.close();
    releaseServerLock(this.config.dataDir);
  }
}
