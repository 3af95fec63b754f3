/**
 * ECS ExecuteCommand: runs a command in a container of a RUNNING task that was
 * started with `enableExecuteCommand`. Where ECS hands the session to SSM
 * Session Manager, Skiff serves it itself: the answer's `session.streamUrl` is
 * a WebSocket on this server (src/exec/stream-route.ts) and `tokenValue` the
 * one-time token that opens it (src/exec/sessions.ts). Nothing runs until the
 * stream is opened. The command string is split like shell words
 * (src/exec/command-line.ts). The guard authorizes `ecs:ExecuteCommand` on the
 * task and audits the call with its command (auditDetail below).
 */
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { optString, reqString } from '../api/input.ts';
import { tryParseTaskRef } from '../ecs/arns.ts';
import { CommandLineError, splitCommand } from '../exec/command-line.ts';
import type { ExecSessions } from '../exec/sessions.ts';
import type { Repos } from '../store/repos.ts';
import type { ArnContext } from '../ecs/arns.ts';
import { activeCluster } from './clusters.ts';

/** ECS's words for a task run without enableExecuteCommand. */
export const EXECUTE_COMMAND_NOT_ENABLED =
  "The execute command failed because execute command was not enabled when the task was run or the execute command agent isn't running. Wait and try the command again or run a new task with execute command enabled and try again.";

/** Longest command accepted (and audited). */
const MAX_COMMAND = 4096;

/** The audit row's detail for an ExecuteCommand call: the command as given (never the task's environment). */
export function executeCommandAuditDetail(input: Record<string, unknown>): string | undefined {
  const cmd = input.command;
  if (typeof cmd !== 'string') return undefined;
  const container = typeof input.container === 'string' ? ` container=${JSON.stringify(input.container.slice(0, 255))}` : '';
  return `command=${JSON.stringify(cmd.slice(0, MAX_COMMAND))}${container}`;
}

export function executeCommandOperations(deps: Pick<Repos, 'clusters' | 'tasks'> & { arns: ArnContext }, sessions: ExecSessions) {
  return {
    ExecuteCommand(input: Record<string, unknown>) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const ref = reqString(input, 'task');
      const command = reqString(input, 'command', { max: MAX_COMMAND });
      if (typeof input.interactive !== 'boolean') throw invalidParameter('interactive is required: set it to true (ECS runs commands in interactive sessions only).');
      if (!input.interactive) throw invalidParameter('Interactive is the only mode supported currently: set interactive to true.');
      const containerName = optString(input, 'container', { max: 255 });
      let args: string[];
      try {
        args = splitCommand(command);
      } catch (err) {
        if (err instanceof CommandLineError) throw invalidParameter(`command cannot be split into arguments: ${err.message}. Quote it as a shell would.`);
        throw err;
      }
      if (args.length === 0) throw invalidParameter('command is empty: give the program to run, e.g. "/bin/sh".');

      const parsed = tryParseTaskRef(cluster.name, ref, deps.arns);
      const task = parsed && parsed.cluster === cluster.name ? deps.tasks.get(parsed.taskId) : undefined;
      if (!task || task.clusterName !== cluster.name) throw invalidParameter(`The referenced task '${ref}' was not found in cluster '${cluster.name}'.`);
      if (!task.enableExecuteCommand) throw invalidParameter(EXECUTE_COMMAND_NOT_ENABLED);
      if (task.lastStatus !== 'RUNNING' || task.desiredStatus !== 'RUNNING') {
        throw invalidParameter(`The execute command failed because the task ${task.id} is ${task.lastStatus}${task.desiredStatus === 'STOPPED' ? ' (stopping)' : ''}; commands run only in RUNNING tasks.`);
      }
      let container = task.containers[0];
      if (containerName !== undefined) {
        const found = task.containers.find((c) => c.name === containerName);
        if (!found) throw invalidParameter(`The container '${containerName}' is not in task ${task.id}; its containers are: ${task.containers.map((c) => c.name).join(', ')}.`);
        container = found;
      } else if (task.containers.length > 1) {
        throw invalidParameter(`Task ${task.id} has ${task.containers.length} containers (${task.containers.map((c) => c.name).join(', ')}): name the one to run the command in with container.`);
      }
      if (container.lastStatus !== 'RUNNING') {
        throw new ApiError(ErrorCode.InvalidParameterException, `The execute command failed because container '${container.name}' is ${container.lastStatus}; commands run only in RUNNING containers.`);
      }
      const session = sessions.create({ taskArn: task.arn, taskId: task.id, containerName: container.name, runtimeId: container.runtimeId, args });
      return {
        clusterArn: task.clusterArn,
        containerArn: container.arn,
        containerName: container.name,
        interactive: true,
        session: { sessionId: session.sessionId, streamUrl: session.streamUrl, tokenValue: session.token },
        taskArn: task.arn,
      };
    },
  };
}
