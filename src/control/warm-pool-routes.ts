/**
 * Skiff's warm-pool endpoints:
 *   GET  /skiff/v1/warm-pool         size and ready/filling namespaces per subnet
 *   POST /skiff/v1/warm-pool/drain   removes every pooled namespace and address, and stops refilling
 *   POST /skiff/v1/warm-pool/resume  fills the pool again
 */
import type { FastifyInstance } from 'fastify';
import type { WarmPool } from '../network/warm-pool.ts';

export function warmPoolRoutes(app: FastifyInstance, pool: WarmPool): void {
  app.get('/skiff/v1/warm-pool', async () => pool.status());
  app.post('/skiff/v1/warm-pool/drain', async () => {
    const removed = await pool.drain();
    return { removed, ...pool.status() };
  });
  app.post('/skiff/v1/warm-pool/resume', async () => {
    await pool.drain({ resume: true });
    return pool.status();
  });
}
