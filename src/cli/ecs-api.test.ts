import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ecsApi, ecsJson, parseEcsJson, TIMESTAMP_MEMBERS } from './ecs-api.ts';
import { headersFromRaw, preVerify, verifySignature } from '../auth/sigv4.ts';

test("the timestamp members are the ones ECS's model (as the SDK ships it) declares", async () => {
  // The SDK's schemas: [3 (structure), namespace, name, traits, member names, member types]; type 4 is a timestamp.
  const sdk = (await import('@aws-sdk/client-ecs')) as unknown as Record<string, unknown>;
  const fromModel = new Set<string>();
  let structures = 0;
  for (const [name, schema] of Object.entries(sdk)) {
    if (!name.endsWith('$') || !Array.isArray(schema) || schema[0] !== 3) continue;
    structures++;
    const [names, types] = [schema[4] as string[], schema[5] as unknown[]];
    names.forEach((m, i) => types[i] === 4 && fromModel.add(m));
  }
  assert.ok(structures > 100 && fromModel.has('startedAt'), 'the SDK model was read');
  assert.deepEqual([...TIMESTAMP_MEMBERS].sort(), [...fromModel].sort());
});

test('bodies: timestamps become Dates coming in and epoch seconds going out', () => {
  const t = parseEcsJson('{"tasks":[{"createdAt":1765155723.456,"cpu":"256","containers":[{"exitCode":0}]}]}') as { tasks: { createdAt: Date; cpu: string; containers: { exitCode: number }[] }[] };
  assert.ok(t.tasks[0]!.createdAt instanceof Date);
  assert.equal(t.tasks[0]!.createdAt.getTime(), 1765155723456);
  assert.equal(t.tasks[0]!.containers[0]!.exitCode, 0, 'other numbers stay numbers');
  assert.equal(ecsJson({ createdAt: { after: new Date(1500) }, n: 2 }), '{"createdAt":{"after":1.5},"n":2}');
});

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('a call is a signed AWS JSON 1.1 request; errors read like the SDK client\'s; a 5xx is tried once more', async (t) => {
  const secret = 'lean-secret';
  const seen: { target?: string; service?: string }[] = [];
  let failNext = 0;
  const server = createServer(async (req, res) => {
    const buf = await body(req);
    const wire = { method: req.method!, url: req.url!, headers: headersFromRaw(req.rawHeaders), body: buf };
    const { auth, amzDate } = preVerify(wire, Date.now());
    verifySignature(wire, auth, amzDate, secret); // throws (500) when the signature is wrong
    const target = String(req.headers['x-amz-target']);
    seen.push({ target, service: auth.service });
    res.setHeader('content-type', 'application/x-amz-json-1.1');
    if (failNext > 0) {
      failNext--;
      res.statusCode = 503;
      return res.end('{"__type":"ServerException","message":"busy"}');
    }
    const input = JSON.parse(buf.toString()) as { cluster?: string };
    if (input.cluster === 'nope') {
      res.statusCode = 400;
      return res.end('{"__type":"com.amazonaws.ecs#ClusterNotFoundException","message":"Cluster not found."}');
    }
    res.end(JSON.stringify({ tasks: [{ taskArn: 'arn:aws:ecs:us-east-1:1:task/default/abc', startedAt: 1765155723 }], failures: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const saved = { ...process.env };
  t.after(() => (process.env = saved));
  process.env.AWS_ACCESS_KEY_ID = 'AKIDLEAN';
  process.env.AWS_SECRET_ACCESS_KEY = secret;
  delete process.env.AWS_PROFILE;
  const ecs = ecsApi({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, region: 'us-east-1' });

  const out = await ecs.call('DescribeTasks', { tasks: ['abc'] });
  assert.ok(out.tasks![0]!.startedAt instanceof Date);
  assert.deepEqual(seen.at(-1), { target: 'AmazonEC2ContainerServiceV20141113.DescribeTasks', service: 'ecs' });

  await assert.rejects(ecs.call('ListTasks', { cluster: 'nope' }), (e: Error) => {
    assert.equal(e.name, 'ClusterNotFoundException');
    assert.match(e.message, /^ClusterNotFoundException: Cluster not found\.\n {2}→ pass --cluster/);
    return true;
  });

  failNext = 1;
  const before = seen.length;
  await ecs.call('DescribeTasks', { tasks: ['abc'] });
  assert.equal(seen.length - before, 2, 'one retry after the 503');

  failNext = 2;
  await assert.rejects(ecs.call('DescribeTasks', { tasks: ['abc'] }), /ServerException: busy/);

  const gone = ecsApi({ endpoint: 'http://127.0.0.1:9' });
  await assert.rejects(gone.call('ListTasks', {}), /^Error: cannot reach Skiff at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);
});
