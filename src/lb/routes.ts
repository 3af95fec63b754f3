/**
 * Skiff's load balancer endpoint:
 *   GET /skiff/v1/load-balancers   every listener (service, entry, host:port) with its targets:
 *                                  state (in-service | draining), in-flight and served requests
 *                                  (IAM action skiff:GetLoadBalancers)
 */
import type { FastifyInstance } from 'fastify';
import type { LoadBalancers } from './load-balancers.ts';

export function loadBalancerRoutes(app: FastifyInstance, lbs: LoadBalancers): void {
  app.get('/skiff/v1/load-balancers', async () => ({ loadBalancers: lbs.describe() }));
}
