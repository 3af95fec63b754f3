/**
 * Isolation: which runtime (driver) runs a task, chosen per task.
 *
 *   runc     namespaces + cgroups on the host kernel (the default; the fastest)
 *   gvisor   gVisor's application kernel between the task and the host (runsc)
 *   microvm  a minimal VM with its own guest kernel (QEMU microvm)
 *
 * The choice, most specific first: the task definition's tag `skiff:isolation`,
 * the cluster's tag `skiff:isolation`, the server's `--isolation`. The chosen
 * name is stored on the task (TaskRecord.isolation), so a restarted agent adopts
 * the task with the same driver. Part of the model: imports nothing.
 */

export const ISOLATIONS = ['runc', 'gvisor', 'microvm'] as const;
export type Isolation = (typeof ISOLATIONS)[number];

/** The tag (on a task definition or a cluster) that picks the isolation. */
export const ISOLATION_TAG = 'skiff:isolation';

/** What a task without a stored isolation (made before isolation was chosen per task) runs on. */
export const LEGACY_ISOLATION: Isolation = 'runc';

export function isIsolation(v: unknown): v is Isolation {
  return typeof v === 'string' && (ISOLATIONS as readonly string[]).includes(v);
}

/** Why `value` is not an isolation name, or undefined when it is one. */
export function isolationProblem(value: string, where: string): string | undefined {
  if (isIsolation(value)) return undefined;
  return `${where} ${JSON.stringify(value)} is not an isolation Skiff knows: use one of ${ISOLATIONS.join(', ')}.`;
}

export interface IsolationChoice {
  isolation: Isolation;
  /** Where the choice came from. */
  source: 'task-definition' | 'cluster' | 'server';
}

/** The most specific of the task definition's tag, the cluster's tag and the server default (tags already validated). */
export function chooseIsolation(taskDefinitionTags: readonly { key?: string; value?: string }[], clusterTags: readonly { key?: string; value?: string }[], serverDefault: Isolation): IsolationChoice {
  const tagOf = (tags: readonly { key?: string; value?: string }[]) => tags.find((t) => t.key === ISOLATION_TAG)?.value;
  const fromDef = tagOf(taskDefinitionTags);
  if (isIsolation(fromDef)) return { isolation: fromDef, source: 'task-definition' };
  const fromCluster = tagOf(clusterTags);
  if (isIsolation(fromCluster)) return { isolation: fromCluster, source: 'cluster' };
  return { isolation: serverDefault, source: 'server' };
}
