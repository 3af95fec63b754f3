/**
 * The store's schema on PostgreSQL, versioned in step with SQLite's migrations
 * (db.ts): `to` is the SQLite `user_version` the schema then equals, so both
 * stores always hold the same tables and columns (schema.test checks it).
 * The first entry builds a new database at version 11 in one step; each later
 * SQLite migration needs its PostgreSQL twin here (a twin ahead of this
 * checkout's SQLite migrations waits: migratePg applies up to their count).
 *
 * Types: SQLite INTEGER → BIGINT (epoch ms overflow 32 bits), REAL → DOUBLE
 * PRECISION, TEXT stays TEXT (documents too: the code parses them itself).
 * Tables a repository orders by SQLite's implicit `rowid` get a real one.
 * `skiff_data_version` counts statements that change `tasks`, and each session
 * counts its own (`skiff.own_bumps`): their difference changes only when another
 * connection wrote, which is what SQLite's `PRAGMA data_version` says
 * (tasks-repo's read cache).
 *
 * Plain SQL only (plus one trigger), nothing the distributed PostgreSQLs lack.
 */

export interface PgMigration {
  /** The SQLite schema version this step brings the database to. */
  to: number;
  sql: string;
}

/** Tables whose INSERT returns a generated id (better-sqlite3's lastInsertRowid), by table. */
export const GENERATED_IDS: Readonly<Record<string, string>> = Object.freeze({ audit_log: 'id' });

/** Key of the advisory lock migrations run under (any fixed 64-bit number; "skiffmig"). */
export const MIGRATION_LOCK = 0x736b6966666d6967n;

export const PG_MIGRATIONS: readonly PgMigration[] = [
  {
    to: 11,
    sql: `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE clusters (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL
  );

  CREATE TABLE task_definitions (
    family TEXT NOT NULL,
    revision BIGINT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    deregistered_at BIGINT,
    doc TEXT NOT NULL,
    PRIMARY KEY (family, revision)
  );

  CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
  );

  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    cluster TEXT NOT NULL,
    family TEXT NOT NULL,
    task_definition_arn TEXT NOT NULL,
    started_by TEXT,
    grp TEXT,
    desired_status TEXT NOT NULL,
    last_status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    stopped_at BIGINT,
    doc TEXT NOT NULL
  );
  CREATE INDEX tasks_by_cluster ON tasks (cluster, desired_status, last_status);
  CREATE INDEX tasks_by_family ON tasks (cluster, family);
  CREATE INDEX tasks_by_stopped_at ON tasks (stopped_at);
  CREATE SEQUENCE skiff_data_version;
  CREATE FUNCTION skiff_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM nextval('skiff_data_version');
      PERFORM set_config('skiff.own_bumps', (coalesce(nullif(current_setting('skiff.own_bumps', true), ''), '0')::bigint + 1)::text, false);
      RETURN NULL;
    END $$;
  CREATE TRIGGER tasks_data_version AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION skiff_bump_data_version();

  CREATE TABLE client_tokens (
    cluster TEXT NOT NULL,
    token TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    task_ids TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (cluster, token)
  );

  CREATE TABLE vpcs (
    id TEXT PRIMARY KEY,
    cidr TEXT NOT NULL,
    is_default BIGINT NOT NULL,
    doc TEXT NOT NULL
  );

  CREATE TABLE subnets (
    id TEXT PRIMARY KEY,
    vpc_id TEXT NOT NULL REFERENCES vpcs(id),
    cidr TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    is_default BIGINT NOT NULL,
    bridge TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    map_public_ip BIGINT NOT NULL DEFAULT 0
  );

  CREATE TABLE ip_allocations (
    subnet_id TEXT NOT NULL REFERENCES subnets(id),
    ip TEXT NOT NULL,
    task_id TEXT NOT NULL,
    PRIMARY KEY (subnet_id, ip)
  );
  CREATE UNIQUE INDEX ip_allocations_by_task ON ip_allocations (task_id);

  CREATE TABLE task_stats (
    task_id TEXT NOT NULL,
    ts BIGINT NOT NULL,
    cluster TEXT NOT NULL,
    family TEXT NOT NULL,
    grp TEXT,
    cpu_units BIGINT NOT NULL,
    memory_mib BIGINT NOT NULL,
    cpu_usage_us BIGINT NOT NULL,
    cpu_vcpus DOUBLE PRECISION,
    memory_bytes BIGINT NOT NULL,
    rss_bytes BIGINT,
    cache_bytes BIGINT,
    PRIMARY KEY (task_id, ts)
  );
  CREATE INDEX task_stats_by_family ON task_stats (family, ts);
  CREATE INDEX task_stats_by_group ON task_stats (grp, ts);
  CREATE INDEX task_stats_by_ts ON task_stats (ts);

  CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_enc TEXT NOT NULL,
    policy TEXT NOT NULL,
    status TEXT NOT NULL,
    is_root BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT
  );

  CREATE TABLE audit_log (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ts BIGINT NOT NULL,
    access_key_id TEXT,
    principal TEXT,
    source_ip TEXT,
    action TEXT NOT NULL,
    resource TEXT,
    outcome TEXT NOT NULL,
    status BIGINT NOT NULL,
    detail TEXT
  );
  CREATE INDEX audit_log_by_ts ON audit_log (ts);
  CREATE INDEX audit_log_by_key ON audit_log (access_key_id, ts);

  CREATE TABLE secrets (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at BIGINT NOT NULL,
    changed_at BIGINT NOT NULL,
    deleted_at BIGINT
  );
  CREATE TABLE secret_versions (
    secret_arn TEXT NOT NULL REFERENCES secrets(arn) ON DELETE CASCADE,
    version_id TEXT NOT NULL,
    stages TEXT NOT NULL,
    wrapped_key TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (secret_arn, version_id)
  );

  CREATE TABLE services (
    id TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    cluster TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE UNIQUE INDEX services_live_name ON services (cluster, name) WHERE status != 'INACTIVE';
  CREATE INDEX services_by_cluster ON services (cluster, status);
  CREATE TABLE service_tasks (
    task_id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL,
    deployment_id TEXT NOT NULL
  );
  CREATE INDEX service_tasks_by_service ON service_tasks (service_id, deployment_id);

  CREATE TABLE task_identities (
    task_id TEXT PRIMARY KEY,
    task_ip TEXT NOT NULL,
    credentials_id TEXT UNIQUE,
    task_role_arn TEXT,
    containers TEXT NOT NULL
  );
  CREATE TABLE task_credentials (
    access_key_id TEXT PRIMARY KEY,
    task_id TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    secret_enc TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX task_credentials_by_task ON task_credentials (task_id, expires_at);

  CREATE TABLE autoscaling_targets (
    arn TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (namespace, resource_id, dimension)
  );
  CREATE TABLE autoscaling_policies (
    arn TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (namespace, resource_id, dimension, name)
  );
  CREATE TABLE autoscaling_scheduled_actions (
    arn TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (namespace, resource_id, dimension, name)
  );
  CREATE TABLE autoscaling_activities (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX autoscaling_activities_by_resource ON autoscaling_activities (namespace, resource_id, start_time);

  CREATE TABLE security_groups (
    id TEXT PRIMARY KEY,
    vpc_id TEXT NOT NULL REFERENCES vpcs(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    is_default BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (vpc_id, name)
  );
  CREATE TABLE security_group_rules (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
    egress BIGINT NOT NULL,
    protocol TEXT NOT NULL,
    from_port BIGINT,
    to_port BIGINT,
    cidr TEXT,
    peer_group_id TEXT,
    description TEXT
  );
  CREATE INDEX security_group_rules_by_group ON security_group_rules (group_id);
  CREATE TABLE task_security_groups (
    rowid BIGINT GENERATED ALWAYS AS IDENTITY,
    task_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (task_id, group_id)
  );
  CREATE INDEX task_security_groups_by_group ON task_security_groups (group_id);

  CREATE TABLE roles (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    role_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    description TEXT,
    trust_policy TEXT NOT NULL,
    max_session_duration BIGINT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE role_policies (
    role_name TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (role_name, policy_name)
  );
  CREATE TABLE managed_policies (
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    policy_id TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    description TEXT,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE role_attached_policies (
    role_name TEXT NOT NULL,
    policy_arn TEXT NOT NULL REFERENCES managed_policies(arn),
    attached_at BIGINT NOT NULL,
    PRIMARY KEY (role_name, policy_arn)
  );
  CREATE INDEX role_attached_policies_by_policy ON role_attached_policies (policy_arn);

  CREATE TABLE task_public_ips (task_id TEXT PRIMARY KEY);
  CREATE TABLE nat_gateways (
    id TEXT PRIMARY KEY,
    subnet_id TEXT NOT NULL,
    vpc_id TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
  );
  CREATE TABLE route_tables (
    id TEXT PRIMARY KEY,
    vpc_id TEXT NOT NULL,
    is_main BIGINT NOT NULL DEFAULT 0
  );
  CREATE TABLE routes (
    route_table_id TEXT NOT NULL REFERENCES route_tables(id) ON DELETE CASCADE,
    destination TEXT NOT NULL,
    nat_gateway_id TEXT,
    PRIMARY KEY (route_table_id, destination)
  );
  CREATE TABLE route_table_associations (
    id TEXT PRIMARY KEY,
    route_table_id TEXT NOT NULL REFERENCES route_tables(id),
    subnet_id TEXT NOT NULL UNIQUE
  );
  `,
  },
  {
    to: 12,
    sql: `
  CREATE TABLE efs_file_systems (
    id TEXT PRIMARY KEY,
    creation_token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE TABLE efs_access_points (
    id TEXT PRIMARY KEY,
    file_system_id TEXT NOT NULL REFERENCES efs_file_systems(id),
    client_token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX efs_access_points_by_fs ON efs_access_points (file_system_id);
  CREATE TABLE efs_mount_targets (
    id TEXT PRIMARY KEY,
    file_system_id TEXT NOT NULL REFERENCES efs_file_systems(id),
    subnet_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX efs_mount_targets_by_fs ON efs_mount_targets (file_system_id);
  `,
  },
];
