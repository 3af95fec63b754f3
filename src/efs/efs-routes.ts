/**
 * EFS's REST-JSON protocol (`/2015-02-01/...`, signed for `elasticfilesystem`)
 * on the server's Fastify instance: each route decodes path, query and body
 * into one input for EfsApi and answers with the operation's HTTP status; an
 * EfsError becomes EFS's error (status, `x-amzn-ErrorType`, `{ErrorCode, Message}`).
 * The guard (src/auth/guard.ts) names each route's action from EFS_ROUTES.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../api/http-server.ts';
import { EfsError, efsErrorBody } from './efs-errors.ts';
import type { EfsApi } from './efs-api.ts';
import type { Input } from './efs-input.ts';

/** IAM service prefix and SigV4 signing name of EFS. */
export const EFS_SERVICE = 'elasticfilesystem';

type Op = keyof Pick<
  EfsApi,
  | 'createFileSystem' | 'describeFileSystems' | 'deleteFileSystem'
  | 'createAccessPoint' | 'describeAccessPoints' | 'deleteAccessPoint'
  | 'createMountTarget' | 'describeMountTargets' | 'deleteMountTarget'
  | 'tagResource' | 'untagResource' | 'listTagsForResource'
>;

/** method, route, IAM action (elasticfilesystem:...), EfsApi method, success status. */
export const EFS_ROUTES: readonly [string, string, string, Op, number][] = [
  ['POST', '/2015-02-01/file-systems', 'CreateFileSystem', 'createFileSystem', 201],
  ['GET', '/2015-02-01/file-systems', 'DescribeFileSystems', 'describeFileSystems', 200],
  ['DELETE', '/2015-02-01/file-systems/:FileSystemId', 'DeleteFileSystem', 'deleteFileSystem', 204],
  ['POST', '/2015-02-01/access-points', 'CreateAccessPoint', 'createAccessPoint', 200],
  ['GET', '/2015-02-01/access-points', 'DescribeAccessPoints', 'describeAccessPoints', 200],
  ['DELETE', '/2015-02-01/access-points/:AccessPointId', 'DeleteAccessPoint', 'deleteAccessPoint', 204],
  ['POST', '/2015-02-01/mount-targets', 'CreateMountTarget', 'createMountTarget', 200],
  ['GET', '/2015-02-01/mount-targets', 'DescribeMountTargets', 'describeMountTargets', 200],
  ['DELETE', '/2015-02-01/mount-targets/:MountTargetId', 'DeleteMountTarget', 'deleteMountTarget', 204],
  ['POST', '/2015-02-01/resource-tags/:ResourceId', 'TagResource', 'tagResource', 200],
  ['DELETE', '/2015-02-01/resource-tags/:ResourceId', 'UntagResource', 'untagResource', 200],
  ['GET', '/2015-02-01/resource-tags/:ResourceId', 'ListTagsForResource', 'listTagsForResource', 200],
];

const ACTIONS = new Map(EFS_ROUTES.map(([m, url, action]) => [`${m} ${url}`, `${EFS_SERVICE}:${action}`]));

/** The IAM action of an EFS route (`elasticfilesystem:CreateFileSystem`), or undefined for any other route. */
export function efsRouteAction(method: string, routeUrl: string | undefined): string | undefined {
  return routeUrl ? ACTIONS.get(`${method} ${routeUrl}`) : undefined;
}

export function efsRoutes(app: FastifyInstance, api: EfsApi, log?: (msg: string) => void): void {
  for (const [method, url, , op, status] of EFS_ROUTES) {
    app.route({
      method: method as 'GET' | 'POST' | 'DELETE',
      url,
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        try {
          const input = inputOf(req);
          const out = api[op](input);
          if (status === 204) return reply.code(204).send();
          return reply.code(status).header('content-type', 'application/json').send(JSON.stringify(out ?? {}));
        } catch (err) {
          if (err instanceof EfsError) {
            const e = efsErrorBody(err);
            return reply.code(e.status).header('content-type', 'application/json').header('x-amzn-errortype', e.code).send(JSON.stringify(e.body));
          }
          return sendError(reply, err, log);
        }
      },
    });
  }
}

/** Path parameters, query parameters (UntagResource's repeated `tagKeys` as TagKeys) and the JSON body, as one input. */
function inputOf(req: FastifyRequest): Input {
  const body = req.body;
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) throw new EfsError('BadRequest', 'The request body must be a JSON object.');
  const query = { ...(req.query as Input) };
  if (query.tagKeys !== undefined) {
    query.TagKeys = [query.tagKeys].flat();
    delete query.tagKeys;
  }
  for (const k of ['MaxItems', 'MaxResults']) if (typeof query[k] === 'string') query[k] = Number(query[k]);
  return { ...query, ...((body as Input | undefined) ?? {}), ...(req.params as Input) };
}

/** Largest tar `PUT /skiff/v1/file-systems/:fileSystemId/contents` takes (the API's body limit). */
export const CONTENTS_MAX_BYTES = 8 * 1024 * 1024;

/**
 * Skiff's route to copy a folder into an empty file system once (`skiff
 * compose`'s bind mounts): `PUT /skiff/v1/file-systems/:fileSystemId/contents`
 * with a tar body → `{copied: true}`, or `{copied: false}` when the file system
 * has files already (nothing is written then).
 */
export function efsContentsRoute(app: FastifyInstance, volumes: { seed(id: string, tarball: Buffer): Promise<boolean> }, efs: Pick<EfsApi, 'resourceArn'>): void {
  app.addContentTypeParser('application/x-tar', { parseAs: 'buffer', bodyLimit: CONTENTS_MAX_BYTES }, (_req, body, done) => done(null, body));
  app.put('/skiff/v1/file-systems/:fileSystemId/contents', async (req, reply) => {
    const { fileSystemId } = req.params as { fileSystemId: string };
    try {
      efs.resourceArn(fileSystemId); // FileSystemNotFound
      if (!Buffer.isBuffer(req.body)) throw new EfsError('BadRequest', 'Send the folder as a tar (Content-Type: application/x-tar).');
      return reply.send({ copied: await volumes.seed(fileSystemId, req.body) });
    } catch (err) {
      if (!(err instanceof EfsError)) return sendError(reply, err);
      const e = efsErrorBody(err);
      return reply.code(e.status).header('x-amzn-errortype', e.code).send({ __type: e.code, message: err.message });
    }
  });
}
