/**
 * Tasks pull from registries that need authentication: a real registry with
 * bearer-token auth (token server + JWT) and one with basic auth, both on
 * loopback. Credentials come from the operator's registry auth file, as the ECS
 * agent's dockercfg auth does.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ECSClient, Task } from '@aws-sdk/client-ecs';
import { TestServer } from './support/skiff-server.ts';
import { startRegistry, type TestRegistry } from './support/registry.ts';
import { pushBusyboxImage } from './support/images.ts';
import { runUntilStopped } from './support/tasks.ts';

let tokenRegistry: TestRegistry;
let basicRegistry: TestRegistry;
let server: TestServer;
let ecs: ECSClient;
let authDir: string;

before(async () => {
  tokenRegistry = await startRegistry({ auth: 'token' });
  basicRegistry = await startRegistry({ auth: 'basic' });
  authDir = mkdtempSync(join(tmpdir(), 'skiff-auth-'));
  const authFile = join(authDir, 'auth.json');
  const { username, password } = tokenRegistry.credentials!;
  // Only the token registry's credentials are configured.
  writeFileSync(authFile, JSON.stringify({ auths: { [tokenRegistry.host]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } } }));
  server = new TestServer({ env: { SKIFF_REGISTRY_AUTH_FILE: authFile } });
  await server.start();
  ecs = server.ecs();
});
after(async () => {
  await server?.destroy();
  await tokenRegistry?.stop();
  await basicRegistry?.stop();
  if (authDir) rmSync(authDir, { recursive: true, force: true });
});

function runImage(family: string, image: string): Promise<Task> {
  return runUntilStopped(ecs, family, [{ name: 'main', image, command: ['echo', 'pulled-with-auth'] }], {}, 30_000);
}

test('a task pulls its image from a registry that needs a bearer token', async () => {
  const image = await pushBusyboxImage(tokenRegistry, 'private/app:1');
  const before = tokenRegistry.tokenRequests();
  const t = await runImage('tokenpull', image);
  assert.equal(t.stopCode, 'EssentialContainerExited', t.stoppedReason);
  assert.equal(t.containers?.[0]?.exitCode, 0);
  assert.match(t.containers![0].imageDigest!, /^sha256:[0-9a-f]{64}$/);
  assert.ok(tokenRegistry.tokenRequests() > before, 'the token server issued a token for the pull');
  const logs = await (await server.fetch(`/skiff/v1/tasks/${t.taskArn!.split('/').pop()}/logs`)).text();
  assert.match(logs, /pulled-with-auth/);
});

test('without credentials for a registry that needs them, the task stops with CannotPullContainerError', async () => {
  const image = await pushBusyboxImage(basicRegistry, 'private/app:1');
  const t = await runImage('nocreds', image);
  assert.equal(t.stopCode, 'TaskFailedToStart');
  assert.match(t.stoppedReason!, /^CannotPullContainerError: .*(denied|authoriz|unauthori)/i);
  assert.equal(t.attributes?.find((a) => a.name === 'skiff.billedSeconds')?.value, '60', 'billed from the pull start, one-minute minimum');
});
