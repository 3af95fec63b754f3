/**
 * Skiff's Spot endpoint: POST /skiff/v1/tasks/:taskId/spot-interruption reclaims
 * a FARGATE_SPOT task as AWS would (warning, SIGTERM, then SpotInterruption).
 * Answers {task} with the interruption recorded.
 */
import type { FastifyInstance } from 'fastify';
import { sendError } from '../api/http-server.ts';
import type { SpotReclaimer } from '../scheduler/spot.ts';
import type { Repos } from '../store/repos.ts';
import { taskView } from './task-view.ts';

export function spotRoutes(app: FastifyInstance, deps: Pick<Repos, 'tags'>, spot: SpotReclaimer): void {
  app.post<{ Params: { taskId: string } }>('/skiff/v1/tasks/:taskId/spot-interruption', async (req, reply) => {
    try {
      const t = spot.interrupt(req.params.taskId.split('/').pop()!);
      return { task: taskView(t, deps.tags.list(t.arn)) };
    } catch (err) {
      return sendError(reply, err);
    }
  });
}
