/**
 * The body of a JSON route (`/skiff/v1/...`): what `fn` returns is the reply;
 * what it throws is first given to `toApiError` (which turns a module's own
 * error classes into catalog errors and passes anything else through) and then
 * sent as `sendError` sends any error.
 */
import type { FastifyReply } from 'fastify';
import { sendError } from './http-server.ts';

export function routeHandler(toApiError: (err: unknown) => unknown = (err) => err) {
  return <R>(fn: (req: R) => unknown) =>
    async (req: R, reply: FastifyReply) => {
      try {
        return await fn(req);
      } catch (err) {
        return sendError(reply, toApiError(err));
      }
    };
}
