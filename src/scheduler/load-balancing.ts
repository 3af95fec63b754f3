/**
 * The store as the load balancers see it: every live service with
 * loadBalancers, its deregistration delay (the service's tag) and its tasks
 * that are not STOPPED. Lives here so that `lb/` does not depend on services.
 */
import type { ControlContext } from '../control/context.ts';
import type { LoadBalancedService, LoadBalancerSource } from '../lb/load-balancers.ts';
import { requestedDeregistrationDelay, requestedHealthCheck } from '../lb/validate.ts';
import type { TargetHealthCheck } from '../model/load-balancer.ts';
import { randomUUID } from 'node:crypto';
import { StopReason } from '../model/task-status.ts';
import { ServicesRepo } from '../store/services-repo.ts';
import { MAX_EVENTS } from '../model/service-record.ts';

export function loadBalancerSource(ctx: ControlContext, log: (msg: string) => void): LoadBalancerSource {
  const repo = new ServicesRepo(ctx.db);
  const badDelay = new Set<string>();
  const badHealthCheck = new Set<string>();
  return {
    services(): LoadBalancedService[] {
      return repo
        .listLive()
        .filter((s) => (s.loadBalancers?.length ?? 0) > 0)
        .map((s) => {
          const tags = ctx.tags.list(s.arn);
          let delay: number | undefined;
          let healthCheck: TargetHealthCheck | undefined;
          try {
            delay = requestedDeregistrationDelay(tags);
          } catch (err) {
            // TagResource does not validate Skiff's tags: fall back to the default and say so once.
            if (!badDelay.has(s.arn)) log(`service ${s.name}: ${(err as Error).message} Using the server default.`);
            badDelay.add(s.arn);
          }
          try {
            healthCheck = requestedHealthCheck(tags);
          } catch (err) {
            // Like the deregistration delay: ALB's default check until the tags are fixed.
            if (!badHealthCheck.has(s.arn)) log(`service ${s.name}: ${(err as Error).message} Using ALB's default health check (GET /) until the tags are fixed.`);
            badHealthCheck.add(s.arn);
            healthCheck = requestedHealthCheck([]);
          }
          return { id: s.id, name: s.name, arn: s.arn, loadBalancers: s.loadBalancers!, deregistrationDelaySeconds: delay, healthCheck, tasks: repo.unstoppedTaskRecords(s.id) };
        });
    },
    addEvents(serviceId: string, messages: string[]): void {
      // The scheduler writes the same record: retry on a concurrent write (its own next pass then sees a new version).
      for (let attempt = 0; attempt < 5; attempt++) {
        const svc = repo.get(serviceId);
        if (!svc || svc.status === 'INACTIVE') return;
        const now = ctx.clock.now();
        for (const message of messages) svc.events.unshift({ id: randomUUID(), createdAt: now, message });
        if (svc.events.length > MAX_EVENTS) svc.events.length = MAX_EVENTS;
        if (repo.save(svc)) return;
      }
      log(`service ${serviceId}: could not record load balancer events: ${messages.join(' ')}`);
    },
  };
}

/**
 * Stops a task whose desired status, stop code and reason are already stored
 * (StopTask): when its service has loadBalancers, it is drained first, as ECS
 * deregisters a task and waits for the target group's deregistration delay
 * before it stops it. The task leaves rotation at once and keeps RUNNING
 * until then. Nothing of this lives only in memory: a restarted server's agent
 * adopts a task stored as desired STOPPED by stopping it with the stored code
 * and reason (the listener, and every connection through it, went down with
 * the old process, so there is nothing left to drain).
 */
export function stopTaskAfterDrain(ctx: ControlContext, taskId: string, log: (msg: string) => void = (m) => console.error(m)): void {
  const stopNow = () => {
    const t = ctx.tasks.get(taskId);
    ctx.agent.stop(taskId, t?.stopCode ?? 'UserInitiated', t?.stoppedReason ?? StopReason.UserInitiated);
  };
  const svc = ctx.loadBalancers ? new ServicesRepo(ctx.db).serviceOfTask(taskId) : undefined;
  if (!ctx.loadBalancers || !svc || svc.status === 'INACTIVE' || !(svc.loadBalancers?.length ?? 0)) return stopNow();
  ctx.loadBalancers.drain(svc.id, taskId).then(stopNow, (err) => {
    log(`service ${svc.name}: draining task ${taskId} failed, stopping it: ${err instanceof Error ? err.message : err}`);
    stopNow();
  });
}
