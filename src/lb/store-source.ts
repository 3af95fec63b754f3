/**
 * The store as the load balancers see it: every live service with
 * loadBalancers, its deregistration delay (the service's tag) and its tasks
 * that are not STOPPED; and where the load balancers record their events (the
 * service's event list, as ECS shows target-group events).
 */
import { randomUUID } from 'node:crypto';
import type { LoadBalancedService, LoadBalancerSource } from './load-balancers.ts';
import { requestedDeregistrationDelay, requestedHealthCheck } from './validate.ts';
import type { TargetHealthCheck } from '../model/load-balancer.ts';
import { MAX_EVENTS } from '../model/service-record.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';

export interface StoreSourceDeps extends Pick<Repos, 'services' | 'tags'> {
  clock: Clock;
}

export function loadBalancerSource(deps: StoreSourceDeps, log: (msg: string) => void): LoadBalancerSource {
  const repo = deps.services;
  const badDelay = new Set<string>();
  const badHealthCheck = new Set<string>();
  return {
    services(): LoadBalancedService[] {
      return repo
        .listLive()
        .filter((s) => (s.loadBalancers?.length ?? 0) > 0)
        .map((s) => {
          const tags = deps.tags.list(s.arn);
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
        const now = deps.clock.now();
        for (const message of messages) svc.events.unshift({ id: randomUUID(), createdAt: now, message });
        if (svc.events.length > MAX_EVENTS) svc.events.length = MAX_EVENTS;
        if (repo.save(svc)) return;
      }
      log(`service ${serviceId}: could not record load balancer events: ${messages.join(' ')}`);
    },
  };
}
