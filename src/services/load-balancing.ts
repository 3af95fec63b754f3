/**
 * The store as the load balancers see it: every live service with
 * loadBalancers, its deregistration delay (the service's tag) and its tasks
 * that are not STOPPED. Lives here so that `lb/` does not depend on services.
 */
import type { ControlContext } from '../control/context.ts';
import type { LoadBalancedService, LoadBalancerSource } from '../lb/load-balancers.ts';
import { requestedDeregistrationDelay } from '../lb/validate.ts';
import { ServicesRepo } from './repo.ts';

export function loadBalancerSource(ctx: ControlContext, log: (msg: string) => void): LoadBalancerSource {
  const repo = new ServicesRepo(ctx.db);
  const badDelay = new Set<string>();
  return {
    services(): LoadBalancedService[] {
      return repo
        .listLive()
        .filter((s) => (s.loadBalancers?.length ?? 0) > 0)
        .map((s) => {
          let delay: number | undefined;
          try {
            delay = requestedDeregistrationDelay(ctx.tags.list(s.arn));
          } catch (err) {
            // TagResource does not validate Skiff's tags: fall back to the default and say so once.
            if (!badDelay.has(s.arn)) log(`service ${s.name}: ${(err as Error).message} Using the server default.`);
            badDelay.add(s.arn);
          }
          return { id: s.id, name: s.name, arn: s.arn, loadBalancers: s.loadBalancers!, deregistrationDelaySeconds: delay, tasks: repo.unstoppedTaskRecords(s.id) };
        });
    },
  };
}
