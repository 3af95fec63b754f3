/**
 * The task metadata endpoint v4 (and v3) and the task credentials endpoint, as
 * a task sees them at http://169.254.170.2 (metadata-nat.ts brings its requests
 * here, unchanged in source address):
 *
 *   GET /v4/<id>              the container's metadata      (/v3/<id> too)
 *   GET /v4/<id>/task         the task's metadata
 *   GET /v4/<id>/stats        the container's Docker stats
 *   GET /v4/<id>/task/stats   every container's stats, by DockerId
 *   GET /v2/credentials/<id>  {RoleArn, AccessKeyId, SecretAccessKey, Token, Expiration}
 *
 * A request is answered only if its id is one Skiff gave a running task AND it
 * comes from that task's own address, through its subnet's gateway (the
 * redirect's target); anything else gets the error the ECS agent gives for an
 * unknown id. Nothing here is logged with a credential.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { TaskRecord } from '../model/task-record.ts';
import type { TasksRepo } from '../store/tasks-repo.ts';
import type { ContainerUsage } from '../drivers/driver.ts';
import type { TaskIdentities } from './task-identity.ts';
import type { TaskCredentialStore } from './task-credentials.ts';
import { containerMetadata, dockerStats, parseNetDev, taskMetadata, type StatsSample } from './metadata-views.ts';
import { gatewayAddress } from '../model/cidr.ts';
import { hostClock } from './clock-status.ts';

export interface MetadataServerDeps {
  identities: TaskIdentities;
  credentials: TaskCredentialStore;
  tasks: TasksRepo;
  region: string;
  subnetCidr(subnetId: string): string | undefined;
  /** A container's usage by runtime id, from the driver (undefined when it is gone). */
  containerUsage(runtimeId: string): Promise<ContainerUsage | undefined>;
  /** Disk use of a container's writable layer, bytes (undefined when unknown). */
  writableLayerBytes?(runtimeId: string): Promise<number | undefined>;
  /** The pid of a container's process on the host, if it runs. */
  containerPid(runtimeId: string): Promise<number | undefined>;
  log(msg: string): void;
}

const MiB = 1024 * 1024;

export class MetadataServer {
  private server: Server | undefined;
  /** Previous stats sample per container runtime id (Docker's precpu_stats). */
  private readonly previous = new Map<string, StatsSample>();

  constructor(private readonly deps: MetadataServerDeps) {}

  /** Listens on every address at `port` (0: any free port); returns the port. */
  async listen(port: number): Promise<number> {
    const server = (this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.deps.log(`metadata endpoint: ${err instanceof Error ? err.message : err}`);
        if (!res.headersSent) send(res, 500, { code: 'InternalServerError', message: 'the metadata endpoint failed; see the Skiff server log' });
      });
    }));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: '0.0.0.0' }, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const source = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { code: 'MethodNotAllowed', message: 'the metadata endpoints answer GET only' });

    const cred = /^\/v2\/credentials\/([^/]*)$/.exec(path);
    if (cred) {
      const identity = cred[1] ? this.deps.identities.byCredentialsId(cred[1]) : undefined;
      const task = identity && identity.taskIp === source ? this.liveTask(identity.taskId, req) : undefined;
      if (!cred[1]) return send(res, 400, { code: 'NoIdInRequest', message: 'CredentialsV2Request: No ID in the request' });
      if (!identity || !task || !identity.taskRoleArn) return send(res, 400, { code: 'InvalidIdInRequest', message: 'CredentialsV2Request: Credentials not found' });
      const c = this.deps.credentials.current(task.id, identity.taskRoleArn);
      return send(res, 200, { RoleArn: c.roleArn, AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, Token: c.token, Expiration: new Date(c.expiresAt).toISOString() });
    }

    const md = /^\/v[34]\/([0-9a-f]{32})(\/task)?(\/stats)?$/.exec(path);
    const found = md ? this.deps.identities.byMetadataId(md[1]) : undefined;
    const task = found && found.identity.taskIp === source ? this.liveTask(found.identity.taskId, req) : undefined;
    if (!md || !found || !task) {
      return send(res, 404, { code: 'NotFound', message: `V4 metadata handler: unable to get task arn from request: no task with this id runs at ${source}` });
    }
    const container = task.containers.find((c) => c.name === found.containerName)!;
    const ctx = { region: this.deps.region, subnetCidr: this.deps.subnetCidr(task.network.subnetId) };
    const [, , taskLevel, stats] = md;
    if (!stats && taskLevel) return send(res, 200, taskMetadata(task, { ...ctx, ephemeralStorageBytes: await this.ephemeralBytes(task), clock: await hostClock.read() }));
    if (!stats) return send(res, 200, containerMetadata(task, container, ctx));
    if (!taskLevel) return send(res, 200, await this.stats(task, container));
    const all = await Promise.all(task.containers.map(async (c) => [c.runtimeId, await this.stats(task, c)] as const));
    return send(res, 200, Object.fromEntries(all));
  }

  /** The task's writable layers together, bytes (EphemeralStorageMetrics.Utilized). */
  private async ephemeralBytes(task: { containers: { runtimeId: string }[] }): Promise<number> {
    const each = await Promise.all(task.containers.map((c) => this.deps.writableLayerBytes?.(c.runtimeId) ?? Promise.resolve(undefined)));
    return each.reduce<number>((a, b) => a + (b ?? 0), 0);
  }

  /** The task, unless it is gone, has finished stopping, or the request did not come in through its subnet's gateway. */
  private liveTask(taskId: string, req: IncomingMessage): TaskRecord | undefined {
    const t = this.deps.tasks.get(taskId);
    if (!t || t.lastStatus === 'STOPPED') return undefined;
    const cidr = this.deps.subnetCidr(t.network.subnetId);
    const local = (req.socket.localAddress ?? '').replace(/^::ffff:/, '');
    return cidr && gatewayAddress(cidr) === local ? t : undefined;
  }

  private async stats(task: TaskRecord, c: TaskRecord['containers'][number]) {
    const usage = await this.deps.containerUsage(c.runtimeId);
    if (!usage) return null; // Docker answers null for a container that is not running
    const pid = usage.pid ?? (await this.deps.containerPid(c.runtimeId).catch(() => undefined));
    const netDev = pid ? await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => undefined) : undefined;
    const sample: StatsSample = { read: Date.now(), usage, systemCpuNs: await systemCpuNs(), onlineCpus: cpus().length, ...(netDev ? { networks: parseNetDev(netDev) } : {}) };
    const prev = this.previous.get(c.runtimeId);
    this.previous.set(c.runtimeId, sample);
    if (this.previous.size > 10_000) this.previous.clear();
    return dockerStats(c, (c.memory ?? task.memory) * MiB, sample, prev);
  }
}

/** Host CPU time over all CPUs in ns (the `cpu` line of /proc/stat, in USER_HZ = 100). */
async function systemCpuNs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0];
  const ticks = line.split(/\s+/).slice(1, 8).reduce((a, v) => a + Number(v || 0), 0);
  return ticks * 10_000_000;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}
