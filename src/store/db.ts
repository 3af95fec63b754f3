/**
 * The embedded store: one SQLite file (better-sqlite3) inside the data dir.
 *
 * Contract: every state change is committed here before Skiff acts on it, so a
 * crash at any point leaves a record that a restart can reconcile. WAL mode with
 * synchronous=FULL: a committed transaction survives power loss.
 *
 * Tables keep the columns Skiff queries on and a `doc` column holding the rest
 * of the record as JSON. Repositories (one module per table group) are the only
 * code that writes SQL.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SqlDb } from './sql-db.ts';

/** The store's database: SQLite (here) or PostgreSQL (postgres/pg-db.ts), one API (sql-db.ts). */
export type Db = SqlDb;

export const MIGRATIONS: string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE clusters (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,            -- ACTIVE | INACTIVE
    created_at INTEGER NOT NULL,     -- epoch ms
    doc TEXT NOT NULL                -- settings, configuration, capacity providers ...
  );

  CREATE TABLE task_definitions (
    family TEXT NOT NULL,
    revision INTEGER NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,            -- ACTIVE | INACTIVE
    registered_at INTEGER NOT NULL,
    deregistered_at INTEGER,
    doc TEXT NOT NULL,               -- the ECS TaskDefinition shape, normalised
    PRIMARY KEY (family, revision)
  );

  CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
  );

  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,             -- 32 hex
    arn TEXT NOT NULL UNIQUE,
    cluster TEXT NOT NULL,           -- cluster name
    family TEXT NOT NULL,
    task_definition_arn TEXT NOT NULL,
    started_by TEXT,
    grp TEXT,
    desired_status TEXT NOT NULL,    -- RUNNING | STOPPED
    last_status TEXT NOT NULL,       -- PROVISIONING .. STOPPED
    created_at INTEGER NOT NULL,     -- epoch ms
    stopped_at INTEGER,              -- epoch ms, once STOPPED
    doc TEXT NOT NULL                -- TaskRecord (see agent/task-record.ts)
  );
  CREATE INDEX tasks_by_cluster ON tasks (cluster, desired_status, last_status);
  CREATE INDEX tasks_by_family ON tasks (cluster, family);

  CREATE TABLE client_tokens (
    cluster TEXT NOT NULL,
    token TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    task_ids TEXT NOT NULL,          -- JSON array of task ids
    created_at INTEGER NOT NULL,
    PRIMARY KEY (cluster, token)
  );

  CREATE TABLE vpcs (
    id TEXT PRIMARY KEY,
    cidr TEXT NOT NULL,
    is_default INTEGER NOT NULL,
    doc TEXT NOT NULL
  );

  CREATE TABLE subnets (
    id TEXT PRIMARY KEY,
    vpc_id TEXT NOT NULL REFERENCES vpcs(id),
    cidr TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    is_default INTEGER NOT NULL,
    bridge TEXT NOT NULL UNIQUE,     -- host bridge name for this subnet
    doc TEXT NOT NULL
  );

  CREATE TABLE ip_allocations (
    subnet_id TEXT NOT NULL REFERENCES subnets(id),
    ip TEXT NOT NULL,
    task_id TEXT NOT NULL,
    PRIMARY KEY (subnet_id, ip)
  );
  CREATE UNIQUE INDEX ip_allocations_by_task ON ip_allocations (task_id);
  `,
  // 2: measured CPU and memory use of running tasks (right-sizing), sampled from their cgroups.
  `
  CREATE TABLE task_stats (
    task_id TEXT NOT NULL,
    ts INTEGER NOT NULL,             -- epoch ms of the sample
    cluster TEXT NOT NULL,
    family TEXT NOT NULL,
    grp TEXT,                        -- the task's group (service:<name> for services)
    cpu_units INTEGER NOT NULL,      -- task size when sampled
    memory_mib INTEGER NOT NULL,
    cpu_usage_us INTEGER NOT NULL,   -- cumulative CPU time of the task cgroup, microseconds
    cpu_vcpus REAL,                  -- average vCPUs used since the previous sample (NULL for the first)
    memory_bytes INTEGER NOT NULL,   -- working set: usage minus inactive file cache
    rss_bytes INTEGER,
    cache_bytes INTEGER,
    PRIMARY KEY (task_id, ts)
  );
  CREATE INDEX task_stats_by_family ON task_stats (family, ts);
  CREATE INDEX task_stats_by_group ON task_stats (grp, ts);
  CREATE INDEX task_stats_by_ts ON task_stats (ts);
  CREATE INDEX tasks_by_stopped_at ON tasks (stopped_at);
  `,
  // 3: API access keys (secrets encrypted under the data dir's master key) and the audit log.
  `
  CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,              -- the principal's name (arn:aws:iam::<account>:user/<name>)
    secret_enc TEXT NOT NULL,        -- AES-256-GCM under the master key, the key id as associated data
    policy TEXT NOT NULL,            -- IAM-like policy JSON
    status TEXT NOT NULL,            -- Active | Revoked
    is_root INTEGER NOT NULL,
    created_at INTEGER NOT NULL,     -- epoch ms
    revoked_at INTEGER,
    last_used_at INTEGER
  );

  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,             -- epoch ms
    access_key_id TEXT,              -- NULL when the call was not signed
    principal TEXT,                  -- principal ARN once the key is known
    source_ip TEXT,
    action TEXT NOT NULL,            -- ecs:RunTask, skiff:GetTaskLogs ...
    resource TEXT,                   -- the resource(s) the decision was about
    outcome TEXT NOT NULL,           -- Success | error type (AccessDeniedException ...)
    status INTEGER NOT NULL          -- HTTP status
  );
  CREATE INDEX audit_log_by_ts ON audit_log (ts);
  CREATE INDEX audit_log_by_key ON audit_log (access_key_id, ts);
  `,
  // 4: Secrets Manager secrets: envelope-encrypted versions (a data key per version, wrapped by the master key).
  `
  CREATE TABLE secrets (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at INTEGER NOT NULL,     -- epoch ms
    changed_at INTEGER NOT NULL,
    deleted_at INTEGER               -- scheduled deletion (epoch ms of the deletion date)
  );
  CREATE TABLE secret_versions (
    secret_arn TEXT NOT NULL REFERENCES secrets(arn) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    stages TEXT NOT NULL,            -- JSON array: AWSCURRENT, AWSPREVIOUS ...
    wrapped_key TEXT NOT NULL,       -- the version's data key, AES-256-GCM under the master key
    ciphertext TEXT NOT NULL,        -- the value, AES-256-GCM under the data key; AAD = arn + version
    kind TEXT NOT NULL,              -- string | binary
    created_at INTEGER NOT NULL,
    PRIMARY KEY (secret_arn, version_id)
  );
  `,
  // 5: ECS services (deployments and events live in the doc) and which service deployment started each task.
  `
  CREATE TABLE services (
    id TEXT PRIMARY KEY,             -- 32 hex; a deleted service's name can be reused by a new id
    arn TEXT NOT NULL,
    cluster TEXT NOT NULL,           -- cluster name
    name TEXT NOT NULL,
    status TEXT NOT NULL,            -- ACTIVE | DRAINING | INACTIVE
    created_at INTEGER NOT NULL,     -- epoch ms
    doc TEXT NOT NULL                -- ServiceRecord (see services/model.ts)
  );
  CREATE UNIQUE INDEX services_live_name ON services (cluster, name) WHERE status != 'INACTIVE';
  CREATE INDEX services_by_cluster ON services (cluster, status);
  CREATE TABLE service_tasks (
    task_id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    deployment_id TEXT NOT NULL      -- ecs-svc/<digits>, also the task's startedBy
  );
  CREATE INDEX service_tasks_by_service ON service_tasks (service_id, deployment_id);
  `,
  // (identity) IAM-like roles for tasks, each task's metadata/credentials ids, and the temporary credentials issued to tasks.
  `
  CREATE TABLE roles (
    name TEXT PRIMARY KEY,           -- arn:aws:iam::<account>:role/<name>
    arn TEXT NOT NULL UNIQUE,
    description TEXT,
    policy TEXT NOT NULL,            -- IAM-like policy JSON (same format as access keys)
    created_at INTEGER NOT NULL      -- epoch ms
  );
  CREATE TABLE task_identities (
    task_id TEXT PRIMARY KEY,
    task_ip TEXT NOT NULL,           -- the only source address allowed to use the ids below
    credentials_id TEXT UNIQUE,      -- /v2/credentials/<id> (NULL: no task role)
    task_role_arn TEXT,
    containers TEXT NOT NULL         -- JSON {metadataId: containerName}: /v4/<metadataId>
  );
  CREATE TABLE task_credentials (
    access_key_id TEXT PRIMARY KEY,  -- ASIA...
    task_id TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    secret_enc TEXT NOT NULL,        -- AES-256-GCM under the master key, the key id as associated data
    token_hash TEXT NOT NULL,        -- sha256 of the session token (X-Amz-Security-Token)
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX task_credentials_by_task ON task_credentials (task_id, expires_at);
  `,
  // Application Auto Scaling: scalable targets, target tracking policies, scheduled actions, scaling activities (src/autoscaling).
  `
  CREATE TABLE autoscaling_targets (
    arn TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,       -- service/<cluster>/<service>
    dimension TEXT NOT NULL,
    doc TEXT NOT NULL,               -- ScalableTargetRecord (see autoscaling/model.ts)
    UNIQUE (namespace, resource_id, dimension)
  );
  CREATE TABLE autoscaling_policies (
    arn TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,               -- TargetTrackingPolicyRecord
    UNIQUE (namespace, resource_id, dimension, name)
  );
  CREATE TABLE autoscaling_scheduled_actions (
    arn TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,               -- ScheduledActionRecord
    UNIQUE (namespace, resource_id, dimension, name)
  );
  CREATE TABLE autoscaling_activities (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    start_time INTEGER NOT NULL,     -- epoch ms
    doc TEXT NOT NULL                -- ActivityRecord
  );
  CREATE INDEX autoscaling_activities_by_resource ON autoscaling_activities (namespace, resource_id, start_time);
  `,
  // (ec2) Security groups of VPCs, their rules, and which groups each task belongs to (see store/networks-repo.ts).
  `
  CREATE TABLE security_groups (
    id TEXT PRIMARY KEY,             -- sg-<17 hex>
    vpc_id TEXT NOT NULL REFERENCES vpcs(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    is_default INTEGER NOT NULL,     -- the VPC's 'default' group (cannot be deleted)
    created_at INTEGER NOT NULL,
    UNIQUE (vpc_id, name)
  );
  CREATE TABLE security_group_rules (
    id TEXT PRIMARY KEY,             -- sgr-<17 hex>
    group_id TEXT NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
    egress INTEGER NOT NULL,         -- 0 ingress, 1 egress
    protocol TEXT NOT NULL,          -- tcp | udp | icmp | -1 | an IP protocol number
    from_port INTEGER,               -- NULL for all (-1); icmp: the type
    to_port INTEGER,                 -- NULL for all (-1); icmp: the code
    cidr TEXT,                       -- exactly one of cidr and peer_group_id
    peer_group_id TEXT,
    description TEXT
  );
  CREATE INDEX security_group_rules_by_group ON security_group_rules (group_id);
  CREATE TABLE task_security_groups (
    task_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (task_id, group_id)
  );
  CREATE INDEX task_security_groups_by_group ON task_security_groups (group_id);
  `,
  // (iam) Roles as IAM has them (src/auth/roles.ts): a trust policy, inline policies, attached managed policies.
  // A role made before this had one policy: it becomes the role's inline policy 'skiff-policy'.
  `
  CREATE TABLE roles_v2 (
    name TEXT PRIMARY KEY,           -- unique regardless of case (checked by the store)
    arn TEXT NOT NULL UNIQUE,        -- arn:aws:iam::<account>:role/<path><name>
    role_id TEXT NOT NULL UNIQUE,    -- AROA...
    path TEXT NOT NULL,              -- / or /a/b/
    description TEXT,
    trust_policy TEXT NOT NULL,      -- AssumeRolePolicyDocument, as given
    max_session_duration INTEGER NOT NULL,
    tags TEXT NOT NULL,              -- JSON [{Key, Value}]
    created_at INTEGER NOT NULL      -- epoch ms
  );
  INSERT INTO roles_v2 (name, arn, role_id, path, description, trust_policy, max_session_duration, tags, created_at)
    SELECT name, arn, 'AROA' || substr(upper(hex(randomblob(9))), 1, 17), '/', description,
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
      3600, '[]', created_at
    FROM roles;
  CREATE TABLE role_policies (
    role_name TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document TEXT NOT NULL,          -- permissions policy JSON, as given
    PRIMARY KEY (role_name, policy_name)
  );
  INSERT INTO role_policies (role_name, policy_name, document) SELECT name, 'skiff-policy', policy FROM roles;
  DROP TABLE roles;
  ALTER TABLE roles_v2 RENAME TO roles;
  CREATE TABLE managed_policies (
    arn TEXT PRIMARY KEY,            -- arn:aws:iam::<account>:policy/<path><name>
    name TEXT NOT NULL UNIQUE,
    policy_id TEXT NOT NULL UNIQUE,  -- ANPA...
    path TEXT NOT NULL,
    description TEXT,
    document TEXT NOT NULL,          -- the default (only) version, v1
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE role_attached_policies (
    role_name TEXT NOT NULL,
    policy_arn TEXT NOT NULL REFERENCES managed_policies(arn),
    attached_at INTEGER NOT NULL,
    PRIMARY KEY (role_name, policy_arn)
  );
  CREATE INDEX role_attached_policies_by_policy ON role_attached_policies (policy_arn);
  `,
  // ExecuteCommand's audit rows carry the command (auth/audit.ts detail).
  `ALTER TABLE audit_log ADD COLUMN detail TEXT;`,
  // Egress (issue #15): a subnet's MapPublicIpOnLaunch (default subnets: true, as on AWS), a
  // task's assignPublicIp, NAT gateways and route tables (src/store/routes-repo.ts).
  `
  ALTER TABLE subnets ADD COLUMN map_public_ip INTEGER NOT NULL DEFAULT 0;
  UPDATE subnets SET map_public_ip = is_default;
  CREATE TABLE task_public_ips (task_id TEXT PRIMARY KEY);
  CREATE TABLE nat_gateways (
    id TEXT PRIMARY KEY,             -- nat-<17 hex>
    subnet_id TEXT NOT NULL,         -- the public subnet it lives in
    vpc_id TEXT NOT NULL,
    state TEXT NOT NULL,             -- available | deleted
    created_at INTEGER NOT NULL,     -- epoch ms
    deleted_at INTEGER
  );
  CREATE TABLE route_tables (
    id TEXT PRIMARY KEY,             -- rtb-<17 hex>
    vpc_id TEXT NOT NULL,
    is_main INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE routes (
    route_table_id TEXT NOT NULL REFERENCES route_tables(id) ON DELETE CASCADE,
    destination TEXT NOT NULL,       -- IPv4 CIDR
    nat_gateway_id TEXT,
    PRIMARY KEY (route_table_id, destination)
  );
  CREATE TABLE route_table_associations (
    id TEXT PRIMARY KEY,             -- rtbassoc-<17 hex>
    route_table_id TEXT NOT NULL REFERENCES route_tables(id),
    subnet_id TEXT NOT NULL UNIQUE
  );
  `,
  // EFS (issue #15): file systems, access points and mount targets (src/store/efs-repo.ts); tags in \`tags\` by ARN.
  `
  CREATE TABLE efs_file_systems (
    id TEXT PRIMARY KEY,             -- fs-<17 hex>
    creation_token TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,     -- epoch ms
    doc TEXT NOT NULL                -- performance/throughput mode, encryption, AZ (EfsFileSystemRecord)
  );
  CREATE TABLE efs_access_points (
    id TEXT PRIMARY KEY,             -- fsap-<17 hex>
    file_system_id TEXT NOT NULL REFERENCES efs_file_systems(id),
    client_token TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    doc TEXT NOT NULL                -- PosixUser, RootDirectory (EfsAccessPointRecord)
  );
  CREATE INDEX efs_access_points_by_fs ON efs_access_points (file_system_id);
  CREATE TABLE efs_mount_targets (
    id TEXT PRIMARY KEY,             -- fsmt-<17 hex>
    file_system_id TEXT NOT NULL REFERENCES efs_file_systems(id),
    subnet_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    doc TEXT NOT NULL                -- address, AZ, VPC (EfsMountTargetRecord)
  );
  CREATE INDEX efs_mount_targets_by_fs ON efs_mount_targets (file_system_id);
  `,
];

/** Opens (creating if needed) the store at `file` and brings its schema up to date. */
export function openDb(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  cacheStatements(db);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/**
 * Runs `write` (statements or a transaction) committed without waiting for the
 * disk (synchronous=NORMAL for it): a power loss may lose it, but never a
 * durable commit made before it, and the next durable commit makes it durable
 * too (WAL frames are synced in order). Inside an open transaction it just runs:
 * that transaction's own commit decides. For facts nothing acts on before a
 * durable commit follows.
 */
export function withoutDiskWait<T>(db: Db, write: () => T): T {
  if (db.inTransaction) return write();
  db.pragma('synchronous = NORMAL');
  try {
    return write();
  } finally {
    db.pragma('synchronous = FULL');
  }
}

/**
 * Makes `db.prepare` answer the same compiled statement for the same SQL text
 * (SQLite compiles a statement in tens of microseconds; hot paths prepare on
 * every request). A statement in the middle of an `iterate()` is busy and cannot
 * be shared: then a fresh one is compiled. Nothing in Skiff changes a
 * statement's modes (pluck/raw/expand), which would otherwise leak between users.
 * Bounded: forgets everything past 2,000 texts (IN lists of varying length).
 */
function cacheStatements(db: Database.Database): void {
  const compile = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    const hit = cache.get(sql);
    if (hit && !hit.busy) return hit;
    const stmt = compile(sql);
    if (!hit) {
      if (cache.size >= 2000) cache.clear();
      cache.set(sql, stmt);
    }
    return stmt;
  }) as Database.Database['prepare'];
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
