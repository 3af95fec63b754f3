/**
 * A task's identity on this host, prepared when it starts and released when it
 * stops:
 *
 *  - its containers' `secrets`, read with the task's execution role
 *    (task-secrets.ts) and injected as environment variables — held in memory
 *    only, never stored;
 *  - an unguessable metadata id per container (`ECS_CONTAINER_METADATA_URI_V4`
 *    = http://169.254.170.2/v4/<id>, and the v3 variable) and, with a task
 *    role, a credentials id (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` =
 *    /v2/credentials/<id>), stored with the task's address so the metadata
 *    server answers only that task, and survives a server restart.
 */
import { randomBytes } from 'node:crypto';
import { withoutDiskWait, type Db } from '../store/db.ts';
import type { TaskRecord } from '../model/task-record.ts';
import type { TaskDefinitionsRepo } from '../store/task-definitions-repo.ts';
import type { RoleStore } from '../auth/roles.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
import { resolveContainerSecrets } from '../secrets/task-secrets.ts';
import { METADATA_ADDRESS } from '../network/linux-network.ts';
import type { TaskCredentialStore } from './task-credentials.ts';

export interface IdentityRow {
  taskId: string;
  taskIp: string;
  credentialsId?: string;
  taskRoleArn?: string;
  /** metadata id → container name */
  containers: Record<string, string>;
}

interface Row {
  task_id: string;
  task_ip: string;
  credentials_id: string | null;
  task_role_arn: string | null;
  containers: string;
}

const toIdentity = (r: Row): IdentityRow => ({
  taskId: r.task_id,
  taskIp: r.task_ip,
  ...(r.credentials_id ? { credentialsId: r.credentials_id } : {}),
  ...(r.task_role_arn ? { taskRoleArn: r.task_role_arn } : {}),
  containers: JSON.parse(r.containers) as Record<string, string>,
});

const newId = () => randomBytes(16).toString('hex');

export interface TaskIdentityDeps {
  db: Db;
  taskDefinitions: TaskDefinitionsRepo;
  roles: RoleStore;
  secrets: SecretStore;
  credentials: TaskCredentialStore;
  accountId: string;
  /** Makes sure the metadata endpoint is reachable from the task's subnet (its bridge). */
  reachable(subnetId: string): Promise<void>;
}

export class TaskIdentities {
  constructor(private readonly deps: TaskIdentityDeps) {}

  /** The role ARNs in force for a task: RunTask overrides first, then the task definition's. */
  rolesOf(task: TaskRecord): { taskRoleArn?: string; executionRoleArn?: string } {
    const def = this.deps.taskDefinitions.get(task.family, task.revision);
    const o = task.overrides as { taskRoleArn?: string; executionRoleArn?: string };
    return { taskRoleArn: o.taskRoleArn ?? def?.taskRoleArn, executionRoleArn: o.executionRoleArn ?? def?.executionRoleArn };
  }

  /**
   * Resolves secrets (throws SecretResolutionError, worded for stoppedReason)
   * and records the task's ids; returns each container's extra environment.
   */
  async prepare(task: TaskRecord): Promise<Map<string, Record<string, string>>> {
    const def = this.deps.taskDefinitions.get(task.family, task.revision);
    const { taskRoleArn, executionRoleArn } = this.rolesOf(task);
    const execRole = executionRoleArn ? this.deps.roles.byArn(executionRoleArn) : undefined;
    const principalArn = `arn:aws:sts::${this.deps.accountId}:assumed-role/${executionRoleArn?.split('/').pop() ?? '(none)'}/${task.id}`;
    const envs = new Map<string, Record<string, string>>();
    for (const c of task.containers) {
      const secrets = def?.containerDefinitions?.find((d) => d.name === c.name)?.secrets ?? [];
      const env = secrets.length
        ? resolveContainerSecrets(c.name, secrets as { name: string; valueFrom: string }[], { roleArn: executionRoleArn, policy: execRole?.policy, principalArn }, this.deps.secrets)
        : {};
      envs.set(c.name, env);
    }
    const identity = this.record(task, taskRoleArn);
    await this.deps.reachable(task.network.subnetId);
    const byName = new Map(Object.entries(identity.containers).map(([id, name]) => [name, id]));
    for (const c of task.containers) {
      const id = byName.get(c.name)!;
      Object.assign(envs.get(c.name)!, {
        ECS_CONTAINER_METADATA_URI_V4: `http://${METADATA_ADDRESS}/v4/${id}`,
        ECS_CONTAINER_METADATA_URI: `http://${METADATA_ADDRESS}/v3/${id}`,
        ...(identity.credentialsId ? { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: `/v2/credentials/${identity.credentialsId}` } : {}),
      });
    }
    return envs;
  }

  /** Stores the task's ids (idempotent: a second call returns the first call's ids). */
  private record(task: TaskRecord, taskRoleArn: string | undefined): IdentityRow {
    const existing = this.get(task.id);
    if (existing) return existing;
    const containers = Object.fromEntries(task.containers.map((c) => [newId(), c.name]));
    // Start-path progress, committed without waiting for the disk (as TaskRunner's): the
    // task's durable RUNNING commit makes it durable, and a task that never got there is stopped at recovery.
    const db = this.deps.db;
    const insert = () =>
      db
        .prepare('INSERT INTO task_identities (task_id, task_ip, credentials_id, task_role_arn, containers) VALUES (?, ?, ?, ?, ?)')
        .run(task.id, task.network.ipv4, taskRoleArn ? newId() : null, taskRoleArn ?? null, JSON.stringify(containers));
    withoutDiskWait(db, insert);
    return this.get(task.id)!;
  }

  get(taskId: string): IdentityRow | undefined {
    const r = this.deps.db.prepare('SELECT * FROM task_identities WHERE task_id = ?').get(taskId) as Row | undefined;
    return r && toIdentity(r);
  }

  byCredentialsId(id: string): IdentityRow | undefined {
    const r = this.deps.db.prepare('SELECT * FROM task_identities WHERE credentials_id = ?').get(id) as Row | undefined;
    return r && toIdentity(r);
  }

  /** The task and container a metadata id belongs to. */
  byMetadataId(id: string): { identity: IdentityRow; containerName: string } | undefined {
    if (!/^[0-9a-f]{32}$/.test(id)) return undefined;
    const r = this.deps.db.prepare("SELECT * FROM task_identities WHERE containers LIKE '%\"' || ? || '\"%'").get(id) as Row | undefined;
    if (!r) return undefined;
    const identity = toIdentity(r);
    const containerName = identity.containers[id];
    return containerName === undefined ? undefined : { identity, containerName };
  }

  /** At start: forgets tasks that finished while no server ran (a crash during teardown). */
  forgetFinished(): void {
    const gone = this.deps.db
      .prepare("SELECT task_id FROM task_identities WHERE task_id NOT IN (SELECT id FROM tasks WHERE last_status != 'STOPPED')")
      .all() as { task_id: string }[];
    for (const { task_id } of gone) this.release(task_id);
  }

  /** The task stopped: its ids and credentials stop working. */
  release(taskId: string): void {
    this.deps.credentials.revokeTask(taskId);
    this.deps.db.prepare('DELETE FROM task_identities WHERE task_id = ?').run(taskId);
  }
}
