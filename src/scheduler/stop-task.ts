/**
 * Stopping a task of a service the load balancers send traffic to: drained
 * first, stopped after. The load balancers are an add-on above the scheduler:
 * they are reached only through the `drain` function the composition root
 * passes in (absent: no load balancers, tasks stop at once).
 */
import type { Repos } from '../store/repos.ts';
import type { Agent } from '../agent/agent.ts';
import { StopReason } from '../model/task-status.ts';
import type { DrainTask } from './applier.ts';

export interface StopDeps extends Pick<Repos, 'tasks' | 'services'> {
  agent: Pick<Agent, 'stop'>;
  /** Takes a task out of its service's load balancers (absent: there are none). */
  drain?: DrainTask;
}

/**
 * Stops a task whose desired status, stop code and reason are already stored
 * (StopTask): when its service has loadBalancers, it is drained first, as ECS
 * deregisters a task and waits for the target group's deregistration delay
 * before it stops it. The task leaves rotation at once and keeps RUNNING
 * until then. Nothing of this lives only in memory: a restarted server's agent
 * adopts a task stored as desired STOPPED by stopping it with the stored code
 * and reason (the listener, and every connection through it, went down with
 * the old process, so there is nothing left to drain).
 */
export function stopTaskAfterDrain(deps: StopDeps, taskId: string, log: (msg: string) => void = (m) => console.error(m)): void {
  const stopNow = () => {
    const t = deps.tasks.get(taskId);
    deps.agent.stop(taskId, t?.stopCode ?? 'UserInitiated', t?.stoppedReason ?? StopReason.UserInitiated);
  };
  const drain = deps.drain;
  const svc = drain ? deps.services.serviceOfTask(taskId) : undefined;
  if (!drain || !svc || svc.status === 'INACTIVE' || !(svc.loadBalancers?.length ?? 0)) return stopNow();
  drain(svc.id, taskId).then(stopNow, (err) => {
    log(`service ${svc.name}: draining task ${taskId} failed, stopping it: ${err instanceof Error ? err.message : err}`);
    stopNow();
  });
}
