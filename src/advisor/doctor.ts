/**
 * `skiff doctor`: checks a task definition (and, when given, how it is run and
 * what Skiff measured about it) against the production-readiness checklist.
 * Pure: a definition and facts in, one verdict per checklist item out.
 *
 * Items whose facts were not gathered (no service named, the server not
 * reachable, the key not allowed to look) are reported as `warn` with the
 * reason, never skipped silently. Secret values are never echoed.
 */
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { egressItem, leastPrivilegeItem, literalSecretsItem, publicIpItem, rolesExistItem, secretsResolvableItem, securityGroupItem, sharedKernelItem } from './doctor-access.ts';
import { capabilitiesItem, gracefulShutdownItem, healthCheckItem, imageItem, nonRootItem, readOnlyRootItem } from './doctor-containers.ts';
import { loggingItem, rightSizedItem, serviceItems } from './doctor-operations.ts';
import type { CheckItem, DoctorFacts, DoctorReport, Verdict } from './doctor-types.ts';

export type { CheckItem, DoctorFacts, DoctorReport, SecurityGroupFacts, ServiceFacts, Verdict } from './doctor-types.ts';

/** Runs every checklist item in the checklist's order; one verdict each. */
export function doctor(def: TaskDefinition, facts: DoctorFacts = {}): DoctorReport {
  const cs = def.containerDefinitions ?? [];
  const items: CheckItem[] = [];
  const add = (id: string, title: string, status: Verdict, message: string, fix?: string) =>
    items.push({ id, title, status, message, ...(status !== 'pass' && fix ? { fix } : {}) });

  // 0. Valid at all.
  if (facts.validationError) {
    add('task-definition.valid', 'valid Fargate task definition', 'fail', facts.validationError, 'fix the definition; RegisterTaskDefinition would refuse it');
  } else add('task-definition.valid', 'valid Fargate task definition', 'pass', 'passes the checks RegisterTaskDefinition runs');


  const vpc = facts.networkConfiguration?.awsvpcConfiguration;
  publicIpItem(add, vpc); // 1. private addresses only
  egressItem(add, vpc, facts); // 1b. will the task reach outside networks, and why not
  securityGroupItem(add, vpc, facts); // 2. security groups
  sharedKernelItem(add, facts); // 2b. teams sharing a cluster do not share a kernel
  leastPrivilegeItem(add, def, facts); // 3. task role
  rolesExistItem(add, def, facts); // 3b. the roles named exist
  literalSecretsItem(add, cs); // 4. secrets from the store
  secretsResolvableItem(add, def, cs, facts); // 4b. secrets readable at start
  readOnlyRootItem(add, cs); // 5
  nonRootItem(add, cs); // 6
  capabilitiesItem(add, cs); // 7
  healthCheckItem(add, cs); // 8
  serviceItems(add, cs, facts); // 9-10b. how the service runs it
  gracefulShutdownItem(add, cs); // 11
  loggingItem(add, cs, facts); // 12
  rightSizedItem(add, def, facts); // 13
  imageItem(add, def, cs, facts); // 14

  const summary = { pass: 0, warn: 0, fail: 0 };
  for (const i of items) summary[i.status]++;
  return { family: def.family ?? '', ...(def.revision ? { revision: def.revision } : {}), items, summary };
}
