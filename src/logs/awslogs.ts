/**
 * The `awslogs` log driver at task start, as ECS applies it: for every container
 * whose logConfiguration uses it, check the options, create the log group if
 * `awslogs-create-group` is "true", create the stream ECS names
 * `<awslogs-stream-prefix>/<container name>/<task id>`, and record a shipment so
 * the shipper copies the container's output into that stream.
 *
 * Runs before any container is created. A failure throws an error worded like
 * the Docker awslogs driver's; the task runner reports it as
 * `ResourceInitializationError: <message>` with stopCode TaskFailedToStart,
 * which is what ECS shows for a missing log group.
 *
 * Options: awslogs-group (required), awslogs-region (must be this server's
 * region), awslogs-stream-prefix, awslogs-create-group. The other options the
 * Docker driver knows are accepted and have no effect (Skiff ships each line as
 * one event, in order); an unknown option fails the task as Docker does.
 */
import type { TaskRecord } from '../model/task-record.ts';
import type { LogStore } from './log-store.ts';

const KNOWN_OPTIONS = new Set([
  'awslogs-region', 'awslogs-endpoint', 'awslogs-group', 'awslogs-create-group', 'awslogs-stream-prefix', 'awslogs-stream',
  'awslogs-datetime-format', 'awslogs-multiline-pattern', 'awslogs-credentials-endpoint', 'awslogs-force-flush-interval-seconds',
  'awslogs-max-buffered-events', 'awslogs-format', 'mode', 'max-buffer-size', 'tag', 'labels', 'env', 'env-regex',
]);

const GROUP_NAME_RE = /^[.\-_/#A-Za-z0-9]{1,512}$/;

export interface LogConfigurationLike {
  logDriver?: string;
  options?: Record<string, string>;
}

export interface AwslogsTarget {
  containerName: string;
  runtimeId: string;
  group: string;
  stream: string;
  createGroup: boolean;
}

/** An awslogs problem worded as the Docker driver words it (the runner prefixes ResourceInitializationError). */
export class AwslogsError extends Error {}

const invalidArgs = (detail: string) => new AwslogsError(`failed to initialize logging driver: ${detail}`);

/** The stream ECS names for a container: `prefix/container/task-id`, or the container's id without a prefix. */
export function awslogsStreamName(prefix: string | undefined, containerName: string, taskId: string, runtimeId: string): string {
  return prefix ? `${prefix}/${containerName}/${taskId}` : runtimeId;
}

/** The awslogs targets of a task's containers (pure: options checked, nothing created). */
export function awslogsTargets(
  task: Pick<TaskRecord, 'id' | 'containers'>,
  logConfigurationOf: (containerName: string) => LogConfigurationLike | undefined,
  region: string,
): AwslogsTarget[] {
  const out: AwslogsTarget[] = [];
  for (const c of task.containers) {
    const lc = logConfigurationOf(c.name);
    if (lc?.logDriver !== 'awslogs') continue;
    const o = lc.options ?? {};
    for (const k of Object.keys(o)) if (!KNOWN_OPTIONS.has(k)) throw invalidArgs(`unknown log opt '${k}' for awslogs log driver`);
    const group = o['awslogs-group'];
    if (!group) throw invalidArgs("must specify a value for log opt 'awslogs-group'");
    if (!GROUP_NAME_RE.test(group)) throw invalidArgs(`awslogs-group '${group}' is not a valid log group name (1-512 of a-z, A-Z, 0-9, '_', '-', '/', '.', '#')`);
    const r = o['awslogs-region'];
    if (r && r !== region) {
      throw invalidArgs(`awslogs-region '${r}' is not this Skiff server's region '${region}': set awslogs-region to '${region}' or leave it out`);
    }
    const cg = o['awslogs-create-group'];
    if (cg !== undefined && !/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(cg)) {
      throw invalidArgs(`invalid value for awslogs-create-group '${cg}': use "true" or "false"`);
    }
    const prefix = o['awslogs-stream-prefix'];
    const stream = awslogsStreamName(prefix, c.name, task.id, c.runtimeId);
    if (/[:*]/.test(stream) || stream.length > 512) throw invalidArgs(`the log stream name '${stream}' is not valid: awslogs-stream-prefix must not contain ':' or '*'`);
    out.push({ containerName: c.name, runtimeId: c.runtimeId, group, stream, createGroup: /^(1|t|T|TRUE|true|True)$/.test(cg ?? '') });
  }
  return out;
}

/**
 * Prepares a task's awslogs containers (see the header): idempotent, so an
 * adopted or retried start changes nothing the second time.
 */
export function prepareAwslogs(store: LogStore, targets: AwslogsTarget[], task: Pick<TaskRecord, 'id'>, logFile: (runtimeId: string) => string, now: number): void {
  store.transaction(() => {
    for (const t of targets) {
      if (!store.group(t.group)) {
        if (!t.createGroup) {
          throw new AwslogsError(
            'failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ' +
              'ResourceNotFoundException: The specified log group does not exist. : exit status 1',
          );
        }
        store.createGroup(t.group, now);
      }
      const g = store.group(t.group)!;
      store.createStream(g.id, t.stream, now);
      store.registerShipment({ runtimeId: t.runtimeId, taskId: task.id, containerName: t.containerName, groupName: t.group, streamName: t.stream, file: logFile(t.runtimeId) });
    }
  });
}
