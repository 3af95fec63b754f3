/**
 * The repository contract: what every store (SQLite, PostgreSQL) must do the
 * same, run by repo-contract.test.ts against each with a fresh, migrated
 * database per test. Each case goes through the real repositories and touches
 * one of the dialect differences the PostgreSQL store translates (parameters,
 * upserts, INSERT OR IGNORE, json_extract, rowid order, NOCASE, LIKE, generated
 * ids, data_version, transactions and savepoints, number types).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from './db.ts';
import { openRepos } from './repos.ts';
import { MAX_TASKS_PER_SUBNET, type SubnetRecord } from './networks-repo.ts';
import type { TaskRecord } from '../model/task-record.ts';
import type { ServiceRecord } from '../model/service-record.ts';

export function repoContract(store: string, open: () => Db): void {
  const withDb = (name: string, fn: (db: Db) => void) =>
    test(`${store}: ${name}`, () => {
      const db = open();
      try {
        fn(db);
      } finally {
        db.close();
      }
    });

  const task = (id: string, extra: Record<string, unknown> = {}) =>
    ({ id, arn: `arn:aws:ecs:us-east-1:1:task/default/${id}`, clusterName: 'default', family: 'web', revision: 1, taskDefinitionArn: 'td:1', desiredStatus: 'RUNNING', lastStatus: 'PENDING', createdAt: 1_700_000_000_000, cpu: 256, memory: 512, version: 1, containers: [], ...extra }) as unknown as TaskRecord;

  withDb('clusters upsert by name and list active ones in order', (db) => {
    const r = openRepos(db);
    const c = (name: string, status: string) => ({ name, arn: `arn:${name}`, status, createdAt: 1 }) as never;
    r.clusters.put(c('b', 'ACTIVE'));
    r.clusters.put(c('a', 'ACTIVE'));
    r.clusters.put(c('b', 'INACTIVE'));
    assert.deepEqual(r.clusters.listActive().map((x) => x.name), ['a']);
    assert.equal(r.clusters.get('b')!.status, 'INACTIVE');
  });

  withDb('tags: upsert, remove, count', (db) => {
    const { tags } = openRepos(db);
    tags.put('arn:x', [{ key: 'b', value: '1' }, { key: 'a', value: '2' }]);
    tags.put('arn:x', [{ key: 'b', value: '3' }]);
    assert.deepEqual(tags.list('arn:x'), [{ key: 'a', value: '2' }, { key: 'b', value: '3' }]);
    tags.remove('arn:x', ['a']);
    assert.equal(tags.count('arn:x'), 1);
  });

  withDb('tasks: named parameters, read-modify-write, lists newest first, reserved capacity summed from the documents', (db) => {
    const { tasks } = openRepos(db);
    tasks.insert(task('t1', { createdAt: 1_700_000_000_001, cpu: 256, memory: 512 }));
    tasks.insert(task('t2', { createdAt: 1_700_000_000_002, cpu: 1024, memory: 2048, startedBy: 'me' }));
    const after = tasks.update('t1', (t) => (t.lastStatus = 'RUNNING'));
    assert.equal(after.version, 2);
    assert.equal(tasks.get('t1')!.lastStatus, 'RUNNING');
    assert.deepEqual(tasks.listRefs({ cluster: 'default' }).map((x) => x.id), ['t2', 't1']);
    assert.deepEqual(tasks.list({ cluster: 'default', startedBy: 'me' }).map((x) => x.id), ['t2']);
    assert.deepEqual(tasks.reserved(), { cpu: 1280, memory: 2560 });
    tasks.update('t2', (t) => (t.lastStatus = 'STOPPED'));
    assert.deepEqual(tasks.reserved(), { cpu: 256, memory: 512 }, 'a stopped task no longer counts (sizes remembered per id)');
    tasks.insert(task('t3', { createdAt: 1_700_000_000_003, cpu: 512, memory: 1024 }));
    assert.deepEqual(tasks.reserved(), { cpu: 768, memory: 1536 }, 'a new task counts at once');
    tasks.update('t2', (t) => (t.lastStatus = 'RUNNING'));
    assert.equal(tasks.countActiveInCluster('default'), 3);
    tasks.update('t3', (t) => (t.lastStatus = 'STOPPED'));
    assert.equal(tasks.countActiveInCluster('default'), 2);
    assert.equal(typeof tasks.countActiveInCluster('default'), 'number');
    const docs = tasks.docs(['t1', 't2', 'nope']);
    assert.deepEqual([...docs.keys()].sort(), ['t1', 't2']);
    assert.throws(() => tasks.update('nope', () => {}), /not in the store/);
  });

  withDb('tasks: change stamps survive reads and own writes keep them current', (db) => {
    const { tasks } = openRepos(db);
    tasks.insert(task('t1'));
    const s1 = tasks.docs(['t1']).get('t1')!.stamp;
    assert.equal(tasks.docs(['t1']).get('t1')!.stamp, s1, 'an unchanged task keeps its stamp');
    tasks.update('t1', (t) => (t.lastStatus = 'RUNNING'));
    assert.notEqual(tasks.docs(['t1']).get('t1')!.stamp, s1, 'a write changes it');
  });

  withDb('transactions: a throw rolls back; a nested one is a savepoint', (db) => {
    const { tags } = openRepos(db);
    assert.throws(() =>
      db.transaction(() => {
        tags.put('arn:t', [{ key: 'k', value: 'v' }]);
        throw new Error('boom');
      })(),
    );
    assert.equal(tags.count('arn:t'), 0);
    db.transaction(() => {
      tags.put('arn:t', [{ key: 'outer', value: '1' }]);
      assert.equal(db.inTransaction, true);
      assert.throws(() =>
        db.transaction(() => {
          tags.put('arn:t', [{ key: 'inner', value: '1' }]);
          throw new Error('inner');
        })(),
      );
    })();
    assert.equal(db.inTransaction, false);
    assert.deepEqual(tags.list('arn:t').map((t) => t.key), ['outer']);
  });

  withDb('task definitions: revisions, families by status (HAVING), LIKE prefix with escapes', (db) => {
    const { taskDefinitions: td } = openRepos(db);
    const def = (family: string) => (revision: number) => ({ family, revision, taskDefinitionArn: `arn:td/${family}:${revision}`, status: 'ACTIVE' }) as never;
    td.insertNextRevision('web_a', def('web_a'), 1);
    td.insertNextRevision('web_a', def('web_a'), 2);
    const x = td.insertNextRevision('webxa', def('webxa'), 3) as unknown as { revision: number };
    assert.equal(x.revision, 1);
    td.replace({ family: 'webxa', revision: 1, status: 'INACTIVE', taskDefinitionArn: 'arn:td/webxa:1' } as never);
    assert.deepEqual(td.listFamilies({ familyPrefix: 'web_' }), ['web_a'], '_ is a literal, not a wildcard');
    assert.deepEqual(td.listFamilies({ status: 'INACTIVE' }), ['webxa']);
    assert.deepEqual(td.listFamilies({ status: 'ACTIVE' }), ['web_a']);
    assert.deepEqual(td.listArns({ desc: true }), ['arn:td/webxa:1', 'arn:td/web_a:2', 'arn:td/web_a:1']);
  });

  withDb('networks: allocation limited per subnet, released addresses reused, rules in insertion order', (db) => {
    const { networks } = openRepos(db);
    networks.insertVpc({ id: 'vpc-1', cidr: '10.0.0.0/16', isDefault: false });
    const subnet: SubnetRecord = { id: 'subnet-1', vpcId: 'vpc-1', cidr: '10.0.1.0/28', availabilityZone: 'us-east-1a', isDefault: false, bridge: 'br-test' };
    networks.insertSubnet(subnet);
    assert.ok(MAX_TASKS_PER_SUBNET > 11);
    for (let i = 0; i < 11; i++) assert.ok(networks.allocate(subnet, `t${i}`));
    assert.equal(networks.allocate(subnet, 'full'), undefined);
    networks.release('t3');
    assert.equal(networks.roomFor(subnet), 1);
    networks.insertSecurityGroup({ id: 'sg-1', vpcId: 'vpc-1', name: 'g', description: 'd', isDefault: false });
    for (const id of ['sgr-z', 'sgr-a', 'sgr-m']) networks.insertSecurityGroupRule({ id, groupId: 'sg-1', egress: false, protocol: 'tcp', fromPort: 80, toPort: 80, cidr: '0.0.0.0/0' });
    assert.deepEqual(networks.securityGroupRules('sg-1').map((r) => r.id), ['sgr-z', 'sgr-a', 'sgr-m'], 'rules come back in the order they were added');
    networks.setAssignPublicIp('t1', true);
    networks.setAssignPublicIp('t1', true);
    networks.setTaskSecurityGroups('t1', ['sg-1']);
    assert.deepEqual(networks.taskSecurityGroups('t1'), ['sg-1']);
    assert.equal(networks.vpc('vpc-1')!.isDefault, false);
  });

  withDb('services: optimistic save on the document version, snapshot of its tasks', (db) => {
    const { services, tasks } = openRepos(db);
    const s = { id: 'svc-1', arn: 'arn:svc', clusterName: 'default', name: 'web', status: 'ACTIVE', createdAt: 1, version: 1 } as unknown as ServiceRecord;
    services.insert(s);
    const stale = { ...s };
    assert.equal(services.save(s), true);
    assert.equal(services.save(stale), false, 'a writer holding an old version loses');
    const hc = { command: ['CMD', 'true'], interval: 30, timeout: 5, retries: 3 };
    tasks.insert(task('a', { startedAt: 1500, capacityProviderName: 'FARGATE_SPOT', lastStatus: 'RUNNING', containers: [{ name: 'app', essential: true, healthCheck: hc, healthStatus: 'HEALTHY' }, { name: 'side', essential: false }] }));
    tasks.insert(task('d', { desiredStatus: 'STOPPED', lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: x', containers: [] }));
    services.addTask('a', 'svc-1', 'ecs-svc/1');
    services.addTask('d', 'svc-1', 'ecs-svc/0');
    const now = services.snapshotTasks('svc-1');
    assert.deepEqual(now.map((t) => t.id), ['a']);
    assert.equal(now[0].healthStatus, 'HEALTHY');
    assert.equal(now[0].hasHealthCheck, true);
    assert.equal(now[0].startedAt, 1500);
    assert.equal(now[0].createdAt, 1_700_000_000_000);
    assert.equal(now[0].capacityProviderName, 'FARGATE_SPOT');
    const failed = services.snapshotTasks('svc-1', 'ecs-svc/0').find((t) => t.id === 'd')!;
    assert.equal(failed.stopCode, 'TaskFailedToStart');
    assert.equal(services.serviceOfTask('a')!.name, 'web');
  });

  withDb('metering: a repeated sample is ignored (INSERT OR IGNORE), numbers stay numbers', (db) => {
    const { metering } = openRepos(db);
    const s = { taskId: 't1', ts: 1_700_000_000_000, cluster: 'default', family: 'web', cpuUnits: 256, memoryMiB: 512, cpuUsageUs: 10, cpuVcpus: 0.25, memoryBytes: 1000 };
    metering.insertSamples([s, s]);
    assert.deepEqual(metering.samples({ since: 0 }).map((x) => [x.ts, x.cpuVcpus, x.memoryBytes]), [[1_700_000_000_000, 0.25, 1000]]);
    assert.deepEqual(metering.sampledFamilies(0), ['web']);
    assert.equal(metering.pruneSamples(Number.MAX_SAFE_INTEGER), 1);
  });

  withDb('generated ids: lastInsertRowid of an insert into an AUTOINCREMENT table (the audit log)', (db) => {
    const insert = db.prepare(`INSERT INTO audit_log (ts, action, outcome, status) VALUES (?, ?, 'Pending', 0)`);
    const a = Number(insert.run(1, 'ecs:RunTask').lastInsertRowid);
    const b = Number(insert.run(2, 'ecs:StopTask').lastInsertRowid);
    assert.ok(a > 0 && b > a, `ids ${a} < ${b}`);
    assert.equal(db.prepare('UPDATE audit_log SET outcome = ?, status = ? WHERE id = ?').run('Success', 200, b).changes, 1);
    assert.deepEqual(db.prepare(`SELECT id, action FROM audit_log WHERE action LIKE ? ORDER BY id DESC`).all('ecs:%'), [{ id: b, action: 'ecs:StopTask' }, { id: a, action: 'ecs:RunTask' }]);
  });

  withDb('a failing statement names the SQL and leaves the store usable', (db) => {
    assert.throws(() => db.prepare('INSERT INTO tags (resource_arn, key, value) VALUES (?, ?, NULL)').run('a', 'b'));
    assert.equal(db.inTransaction, false);
    assert.equal(openRepos(db).tags.count('a'), 0);
  });
}
