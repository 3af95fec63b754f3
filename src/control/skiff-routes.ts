/**
 * Skiff's own HTTP endpoints (beside the ECS API): container logs and the
 * network layout. JSON in, JSON (or NDJSON for log streams) out.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ApiError, ErrorCode } from '../api/errors.ts';
import { sendError } from '../api/http-server.ts';
import { readContainerLog } from '../logs/container-log.ts';
import type { Repos } from '../store/repos.ts';
import type { WarmPool } from '../network/warm-pool.ts';
import { taskView } from './task-view.ts';

export interface SkiffRouteDeps extends Pick<Repos, 'tasks' | 'tags' | 'networks'> {
  /** Ready task networks count as available addresses (absent: no pool). */
  warmPool?: Pick<WarmPool, 'readyCount'>;
}

export function skiffRoutes(app: FastifyInstance, deps: SkiffRouteDeps, opts: { logPath: (runtimeId: string) => string }): void {
  /** Lines of every container of a task (or one, with ?container=), optionally followed until the task stops. */
  app.get<{ Params: { taskId: string }; Querystring: { container?: string; follow?: string } }>(
    '/skiff/v1/tasks/:taskId/logs',
    async (req, reply) => {
      try {
        const task = deps.tasks.get(req.params.taskId);
        if (!task) throw new ApiError(ErrorCode.ResourceNotFoundException, `Task ${req.params.taskId} not found.`);
        const containers = task.containers.filter((c) => !req.query.container || c.name === req.query.container);
        if (containers.length === 0) {
          throw new ApiError(ErrorCode.InvalidParameterException, `Task ${task.id} has no container named '${req.query.container}'.`);
        }
        const follow = req.query.follow === 'true' || req.query.follow === '1';
        const abort = new AbortController();
        req.raw.on('close', () => abort.abort());
        const isFinished = follow ? () => deps.tasks.get(task.id)?.lastStatus === 'STOPPED' : undefined;
        async function* lines() {
          const streams = containers.map((c) => ({ c, it: readContainerLog(opts.logPath(c.runtimeId), { isFinished, signal: abort.signal }) }));
          // Without follow: one container after another. With follow: interleave as events arrive.
          if (!follow) {
            for (const { c, it } of streams) for await (const e of it) yield JSON.stringify({ container: c.name, ...e }) + '\n';
            return;
          }
          const pending = new Map(streams.map((s, i) => [i, s.it.next().then((r) => ({ i, r }))]));
          while (pending.size) {
            const { i, r } = await Promise.race(pending.values());
            if (r.done) {
              pending.delete(i);
              continue;
            }
            yield JSON.stringify({ container: streams[i].c.name, ...r.value }) + '\n';
            pending.set(i, streams[i].it.next().then((x) => ({ i, r: x })));
          }
        }
        return reply.header('content-type', 'application/x-ndjson').send(Readable.from(lines()));
      } catch (err) {
        return sendError(reply, err);
      }
    },
  );

  /** One task with Skiff's extra detail: cold-start phases, billing, the bandwidth its traffic is shaped to (null before). */
  app.get<{ Params: { taskId: string } }>('/skiff/v1/tasks/:taskId', async (req, reply) => {
    const task = deps.tasks.get(req.params.taskId);
    if (!task) return sendError(reply, new ApiError(ErrorCode.ResourceNotFoundException, `Task ${req.params.taskId} not found.`));
    return { task: taskView(task, deps.tags.list(task.arn)), timings: task.timings, billing: task.billing ?? null, bandwidth: task.network.bandwidth ?? null };
  });

  app.get('/skiff/v1/subnets', async () => {
    return {
      subnets: deps.networks.subnets().map((s) => ({
        subnetId: s.id,
        vpcId: s.vpcId,
        cidrBlock: s.cidr,
        availabilityZone: s.availabilityZone,
        defaultForAz: s.isDefault,
        // Addresses the warm pool holds ready are free for the next task.
        availableIpAddressCount: deps.networks.availableCount(s) + (deps.warmPool?.readyCount(s.id) ?? 0),
        bridge: s.bridge,
      })),
    };
  });
}
