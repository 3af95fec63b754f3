import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { openDb } from './db.ts';
import { TaskDefinitionsRepo } from './task-definitions-repo.ts';

const ARN = (fr: string) => `arn:aws:ecs:us-east-1:123456789012:task-definition/${fr}`;

test('DELETE_IN_PROGRESS revisions stay while a live task or service uses them, then become tombstones that keep the revision number', () => {
  const db = openDb(':memory:');
  const repo = new TaskDefinitionsRepo(db);
  const register = (family: string) =>
    repo.insertNextRevision(family, (revision) => ({ family, revision, status: 'ACTIVE', taskDefinitionArn: ARN(`${family}:${revision}`) }) as TaskDefinition, 1);
  for (let i = 0; i < 4; i++) register('web');
  register('solo');
  const deleting = (family: string, revision: number) => repo.replace({ ...repo.get(family, revision)!, status: 'DELETE_IN_PROGRESS', deleteRequestedAt: 9 as never });
  for (const r of [1, 2, 3]) deleting('web', r);
  deleting('solo', 1);
  db.prepare(`INSERT INTO tags (resource_arn, key, value) VALUES (?, 'team', 'core')`).run(ARN('web:3'));

  // web:1 is used by a running task, web:2 by a live service (through a deployment), web:10-like prefixes must not count.
  const task = (id: string, arn: string, lastStatus: string) =>
    db.prepare(`INSERT INTO tasks (id, arn, cluster, family, task_definition_arn, desired_status, last_status, created_at, doc) VALUES (?, ?, 'default', 'web', ?, 'RUNNING', ?, 1, '{}')`)
      .run(id, `arn:task:${id}`, arn, lastStatus);
  task('a', ARN('web:1'), 'RUNNING');
  task('b', ARN('web:3'), 'STOPPED');
  const service = (id: string, status: string, arn: string) =>
    db.prepare(`INSERT INTO services (id, arn, cluster, name, status, created_at, doc) VALUES (?, ?, 'default', ?, ?, 1, ?)`)
      .run(id, `arn:svc:${id}`, `svc-${id}`, status, JSON.stringify({ deployments: [{ taskDefinitionArn: arn }] }));
  service('s1', 'ACTIVE', ARN('web:2'));
  service('s2', 'INACTIVE', ARN('web:3'));
  service('s3', 'ACTIVE', ARN('solo:10'));

  assert.deepEqual(repo.listArns({ status: 'DELETE_IN_PROGRESS' }), [ARN('solo:1'), ARN('web:1'), ARN('web:2'), ARN('web:3')]);
  assert.deepEqual(repo.purgeDeleted().sort(), [ARN('solo:1'), ARN('web:3')], 'a STOPPED task, an INACTIVE service and a longer ARN do not hold a revision');
  assert.equal(repo.get('web', 3), undefined);
  assert.equal(repo.get('web', 1)?.status, 'DELETE_IN_PROGRESS', 'still describable while in use');
  assert.equal((db.prepare(`SELECT count(*) AS n FROM tags WHERE resource_arn = ?`).get(ARN('web:3')) as { n: number }).n, 0, 'its tags go with it');
  assert.deepEqual(repo.listArns({ status: 'ALL' }), [ARN('web:1'), ARN('web:2'), ARN('web:4')]);
  assert.deepEqual(repo.listFamilies({ status: 'ALL' }), ['web'], 'a family whose revisions are all deleted is not listed');
  assert.deepEqual(repo.listFamilies({ status: 'INACTIVE' }), []);
  assert.deepEqual(repo.purgeDeleted(), [], 'nothing more while the task and the service run');

  db.prepare(`UPDATE tasks SET last_status = 'STOPPED' WHERE id = 'a'`).run();
  db.prepare(`UPDATE services SET status = 'INACTIVE' WHERE id = 's1'`).run();
  assert.deepEqual(repo.purgeDeleted().sort(), [ARN('web:1'), ARN('web:2')]);
  assert.equal(register('solo').revision, 2, 'the next revision continues after a deleted one');
  assert.equal(register('web').revision, 5);
});
