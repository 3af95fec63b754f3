/**
 * CreateService, UpdateService, DescribeServices, ListServices, DeleteService.
 *
 * The operations only validate and record what the user asked (the service, a
 * new PRIMARY deployment, the desired count, DRAINING); the service scheduler
 * (scheduler/service-scheduler.ts) does the rest, woken at once. Running and pending
 * counts are read from the tasks at describe time.
 */
import { randomUUID } from 'node:crypto';
import type { Deployment, Service } from '@aws-sdk/client-ecs';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { optBool, optInt, optString, optStringList, reqString } from '../api/input.ts';
import { paginate } from '../ecs/pagination.ts';
import { isArn, parseServiceRef, serviceArn, validateServiceName, type ArnContext } from '../ecs/arns.ts';
import {
  validateCapacityProviderStrategy,
  validateNetworkConfiguration,
  type NormalisedAwsVpcConfiguration,
  type NormalisedStrategyItem,
} from '../ecs/run-task.ts';
import { newDeploymentId } from '../scheduler/service-scheduler.ts';
import { deploymentCounts } from '../scheduler/reconcile.ts';
import { effectiveStrategy } from '../scheduler/capacity-split.ts';
import { MAX_TASKS_PER_SERVICE, type DeploymentConfiguration, type DeploymentRecord, type ServiceRecord, type ServiceTask } from '../model/service-record.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';
import type { ChangeSignal } from '../scheduler/signal.ts';
import type { LoadBalancerDirectory } from '../lb/load-balancers.ts';
import { activeCluster } from './clusters.ts';
import { resolveTaskDefinition } from '../scheduler/task-definitions.ts';
import { readTags } from './tags.ts';
import { isolationFor, requireRuntime, securityGroupsFor, type IsolationDeps, subnetsFor } from '../scheduler/placement.ts';
import type { ClusterRecord } from '../store/clusters-repo.ts';
import { LISTENER_PORT_TAG, loadBalancerKey, loadBalancerView, type ServiceLoadBalancer } from '../model/load-balancer.ts';
import { checkAgainstTaskDefinition, readLoadBalancers, requestedDeregistrationDelay, requestedHealthCheck, requestedListenerPorts, type LoadBalancerRequest } from '../lb/validate.ts';

export interface ServiceHandlerDeps extends Pick<Repos, 'db' | 'clusters' | 'taskDefinitions' | 'tags' | 'services' | 'networks'> {
  clock: Clock;
  arns: ArnContext;
  /** Told when a service changed, so the service scheduler acts on it soon. */
  servicesChanged: Pick<ChangeSignal, 'notify'>;
  /** Skiff's load balancers (absent: services with loadBalancers are refused). */
  loadBalancers?: LoadBalancerDirectory;
  /** How tasks' isolation is chosen (absent: runc only). */
  isolation?: IsolationDeps;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const secs = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
const serviceNotFound = (ref: string) =>
  new ApiError(ErrorCode.ServiceNotFoundException, `Service not found: '${ref}'. Create it with CreateService or check the name and cluster.`);

export const LIST_SERVICES_DEFAULT_PAGE = 10;
export const DESCRIBE_SERVICES_MAX = 10;

function intIn(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalidParameter(`${what} must be an integer from ${min} to ${max}; got ${JSON.stringify(v)}.`);
  return v;
}

function readDeploymentConfiguration(v: unknown, base?: DeploymentConfiguration): DeploymentConfiguration {
  const out: DeploymentConfiguration = structuredClone(
    base ?? { maximumPercent: 200, minimumHealthyPercent: 100, deploymentCircuitBreaker: { enable: false, rollback: false } },
  );
  if (v === undefined || v === null) return out;
  if (!isObj(v)) throw invalidParameter(`deploymentConfiguration must be an object {"maximumPercent": ..., "minimumHealthyPercent": ..., "deploymentCircuitBreaker": {...}}.`);
  if (v.maximumPercent !== undefined && v.maximumPercent !== null) out.maximumPercent = intIn(v.maximumPercent, 'deploymentConfiguration.maximumPercent', 100, 200);
  if (v.minimumHealthyPercent !== undefined && v.minimumHealthyPercent !== null) {
    out.minimumHealthyPercent = intIn(v.minimumHealthyPercent, 'deploymentConfiguration.minimumHealthyPercent', 0, 100);
  }
  if (out.maximumPercent === 100 && out.minimumHealthyPercent === 100) {
    throw invalidParameter(`maximumPercent 100 with minimumHealthyPercent 100 leaves no room to replace a task: raise maximumPercent or lower minimumHealthyPercent.`);
  }
  const cb = v.deploymentCircuitBreaker;
  if (cb !== undefined && cb !== null) {
    if (!isObj(cb) || typeof cb.enable !== 'boolean' || typeof cb.rollback !== 'boolean') {
      throw invalidParameter(`deploymentCircuitBreaker must be {"enable": true|false, "rollback": true|false}.`);
    }
    out.deploymentCircuitBreaker = { enable: cb.enable, rollback: cb.rollback };
  }
  return out;
}

function rejectUnsupported(input: Obj): void {
  const nonEmpty = (k: string) => Array.isArray(input[k]) && (input[k] as unknown[]).length > 0;
  if (nonEmpty('serviceRegistries')) throw invalidParameter(`serviceRegistries (Cloud Map) are not supported by Skiff. Remove them.`);
  if (nonEmpty('placementConstraints')) throw invalidParameter(`Task placement constraints are not supported for services using the Fargate launch type. Remove placementConstraints.`);
  if (nonEmpty('placementStrategy')) throw invalidParameter(`Task placement strategies are not supported for services using the Fargate launch type. Remove placementStrategy.`);
  if (nonEmpty('volumeConfigurations')) throw invalidParameter(`volumeConfigurations (Amazon EBS volumes) are not supported by Skiff. Remove them.`);
  if (nonEmpty('serviceConnectConfiguration')) throw invalidParameter(`Service Connect is not supported by Skiff. Remove serviceConnectConfiguration.`);
}

interface LaunchChoice {
  launchType?: 'FARGATE';
  capacityProviderStrategy?: NormalisedStrategyItem[];
}

function readLaunch(input: Obj, cluster: ClusterRecord): LaunchChoice | undefined {
  const lt = input.launchType;
  const hasStrategy = Array.isArray(input.capacityProviderStrategy) && input.capacityProviderStrategy.length > 0;
  if (lt !== undefined && lt !== null) {
    if (lt !== 'FARGATE') throw invalidParameter(`Skiff runs services on Fargate only: launchType ${JSON.stringify(lt)} is not supported. Use FARGATE or a capacity provider strategy.`);
    if (hasStrategy) throw invalidParameter(`Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.`);
    return { launchType: 'FARGATE' };
  }
  if (!hasStrategy) return undefined;
  const strategy = validateCapacityProviderStrategy(input.capacityProviderStrategy);
  for (const s of strategy) {
    if (!cluster.capacityProviders.includes(s.capacityProvider)) {
      throw invalidParameter(`Capacity provider ${s.capacityProvider} is not associated with cluster ${cluster.name}. Add it with PutClusterCapacityProviders.`);
    }
  }
  return { capacityProviderStrategy: strategy };
}

function readNetwork(deps: ServiceHandlerDeps, v: unknown): { awsvpcConfiguration: NormalisedAwsVpcConfiguration } | undefined {
  if (v === undefined || v === null) return undefined;
  const n = { awsvpcConfiguration: validateNetworkConfiguration(v) };
  // every subnet and security group must exist, the groups in the subnets' VPC
  securityGroupsFor(deps, subnetsFor(deps, n.awsvpcConfiguration.subnets), n.awsvpcConfiguration.securityGroups);
  return n;
}

function activeDefinition(deps: ServiceHandlerDeps, ref: string) {
  const def = resolveTaskDefinition(deps, ref);
  if (def.status !== 'ACTIVE') throw new ApiError(ErrorCode.ClientException, `TaskDefinition ${def.family}:${def.revision} is inactive; register a new revision or use an ACTIVE one.`);
  if (!(def.compatibilities ?? []).includes('FARGATE')) throw invalidParameter(`Task definition does not support launch_type FARGATE. Register a revision that requires FARGATE.`);
  return def;
}

function newDeployment(svc: Pick<ServiceRecord, 'taskDefinitionArn' | 'capacityProviderStrategy' | 'networkConfiguration'>, now: number, cluster: ClusterRecord, launchType?: 'FARGATE'): DeploymentRecord {
  const id = newDeploymentId();
  return {
    id,
    status: 'PRIMARY',
    taskDefinitionArn: svc.taskDefinitionArn,
    capacityProviderStrategy: effectiveStrategy(svc.capacityProviderStrategy, launchType, cluster.defaultCapacityProviderStrategy),
    networkConfiguration: svc.networkConfiguration,
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: 'ECS deployment in progress.',
    failedTasks: 0,
    createdAt: now,
    updatedAt: now,
  };
}

function deploymentView(svc: ServiceRecord, d: DeploymentRecord, tasks: ServiceTask[]): Record<string, unknown> {
  const counts = deploymentCounts(d, tasks);
  const out: Omit<Deployment, 'createdAt' | 'updatedAt'> & Obj = {
    id: d.id,
    status: d.status,
    taskDefinition: d.taskDefinitionArn,
    desiredCount: d.status === 'PRIMARY' ? (svc.status === 'ACTIVE' ? svc.desiredCount : 0) : counts.runningCount + counts.pendingCount,
    pendingCount: counts.pendingCount,
    runningCount: counts.runningCount,
    failedTasks: d.failedTasks,
    createdAt: secs(d.createdAt),
    updatedAt: secs(d.updatedAt),
    ...(d.capacityProviderStrategy ? { capacityProviderStrategy: d.capacityProviderStrategy } : { launchType: 'FARGATE' }),
    platformVersion: '1.4.0',
    platformFamily: 'Linux',
    ...(d.networkConfiguration ? { networkConfiguration: d.networkConfiguration } : {}),
    rolloutState: d.rolloutState,
    rolloutStateReason: d.rolloutStateReason,
  };
  return out;
}

export function serviceView(deps: ServiceHandlerDeps, svc: ServiceRecord, tasks: ServiceTask[], includeTags: boolean): Record<string, unknown> {
  const deployments = svc.deployments.filter((d) => d.status !== 'INACTIVE').map((d) => deploymentView(svc, d, tasks));
  const live = svc.status === 'INACTIVE' ? [] : tasks.filter((t) => t.desiredStatus === 'RUNNING');
  const runningCount = live.filter((t) => t.lastStatus === 'RUNNING').length;
  const out: Omit<Service, 'createdAt' | 'deployments' | 'events'> & Obj = {
    serviceArn: svc.arn,
    serviceName: svc.name,
    clusterArn: svc.clusterArn,
    // Skiff adds `skiffListener` (host:port clients connect to) to each entry; SDKs drop it, the raw JSON keeps it.
    loadBalancers: (svc.loadBalancers ?? []).map((lb) => ({ ...loadBalancerView(lb), ...(deps.loadBalancers ? { skiffListener: deps.loadBalancers.listenerAddress(lb.listenerPort) } : {}) })),
    serviceRegistries: [],
    status: svc.status,
    desiredCount: svc.desiredCount,
    runningCount,
    pendingCount: live.length - runningCount + (svc.status === 'INACTIVE' ? 0 : svc.deployments.reduce((n, d) => n + (d.waitingForCapacity ?? 0), 0)),
    ...(svc.capacityProviderStrategy ? { capacityProviderStrategy: svc.capacityProviderStrategy } : svc.launchType ? { launchType: svc.launchType } : {}),
    platformVersion: svc.platformVersion,
    platformFamily: 'Linux',
    taskDefinition: svc.taskDefinitionArn,
    deploymentConfiguration: svc.deploymentConfiguration,
    deployments,
    events: svc.events.map((e) => ({ id: e.id, createdAt: secs(e.createdAt), message: e.message })),
    createdAt: secs(svc.createdAt),
    placementConstraints: [],
    placementStrategy: [],
    ...(svc.networkConfiguration ? { networkConfiguration: svc.networkConfiguration } : {}),
    healthCheckGracePeriodSeconds: svc.healthCheckGracePeriodSeconds,
    schedulingStrategy: 'REPLICA',
    deploymentController: { type: 'ECS' },
    ...(svc.createdBy ? { createdBy: svc.createdBy } : {}),
    enableECSManagedTags: svc.enableECSManagedTags,
    propagateTags: svc.propagateTags,
    enableExecuteCommand: svc.enableExecuteCommand ?? false,
    availabilityZoneRebalancing: 'DISABLED',
    ...(includeTags ? { tags: deps.tags.list(svc.arn) } : {}),
  };
  return out;
}

/** Listener ports for new loadBalancers entries: the ones the tag asks for (checked free), else free ones. */
async function allocateListeners(deps: ServiceHandlerDeps, requests: LoadBalancerRequest[], wanted: (number | undefined)[]): Promise<ServiceLoadBalancer[]> {
  if (requests.length === 0) return [];
  const lbs = deps.loadBalancers;
  if (!lbs) throw invalidParameter(`This Skiff server runs no load balancers; remove loadBalancers.`);
  const taken = new Set(deps.services.listLive().flatMap((s) => (s.loadBalancers ?? []).map((l) => l.listenerPort)));
  const out: ServiceLoadBalancer[] = [];
  for (const [i, r] of requests.entries()) {
    const want = wanted[i];
    if (want !== undefined && taken.has(want)) throw invalidParameter(`Port ${want} (tag ${LISTENER_PORT_TAG}) is already the listener port of another service; choose another or leave the tag out and Skiff picks one.`);
    let port: number;
    try {
      port = await lbs.reservePort(want);
    } catch (err) {
      throw invalidParameter(`Cannot use ${want === undefined ? 'a free port' : `port ${want} (tag ${LISTENER_PORT_TAG})`} for the load balancer listener: ${(err as Error).message}. Choose another port or leave the tag out.`);
    }
    taken.add(port);
    out.push({ ...r, listenerPort: port });
  }
  return out;
}

const sameLoadBalancers = (a: LoadBalancerRequest[], b: ServiceLoadBalancer[]) =>
  a.length === b.length && a.every((x, i) => loadBalancerKey(x) === loadBalancerKey(b[i]) && x.containerName === b[i].containerName && x.containerPort === b[i].containerPort);

export function serviceOperations(deps: ServiceHandlerDeps) {
  const repo = deps.services;
  const wake = () => deps.servicesChanged.notify();
  const view = (svc: ServiceRecord, tags = false) => serviceView(deps, svc, repo.snapshotTasks(svc.id), tags);

  /** The live (ACTIVE or DRAINING) service a request names, or ServiceNotFoundException. */
  function liveService(cluster: ClusterRecord, ref: string): ServiceRecord {
    const r = parseServiceRef(cluster.name, ref, deps.arns);
    const svc = r.cluster === cluster.name ? repo.byName(cluster.name, r.service) : undefined;
    if (!svc) throw serviceNotFound(ref);
    return svc;
  }

  function save(svc: ServiceRecord): void {
    if (!repo.save(svc)) throw new ApiError(ErrorCode.ServerException, `Service ${svc.name} changed while it was being updated; try again.`, { retryable: true });
  }

  return {
    async CreateService(input: Obj) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const name = validateServiceName(reqString(input, 'serviceName'));
      rejectUnsupported(input);
      const dc = input.deploymentController;
      if (isObj(dc) && dc.type !== undefined && dc.type !== 'ECS') throw invalidParameter(`Skiff supports the ECS deployment controller only; got ${JSON.stringify(dc.type)}.`);
      const strategy = optString(input, 'schedulingStrategy') ?? 'REPLICA';
      if (strategy !== 'REPLICA') throw invalidParameter(`The DAEMON scheduling strategy is not supported on Fargate; use REPLICA.`);
      const def = activeDefinition(deps, reqString(input, 'taskDefinition'));
      if (input.desiredCount === undefined || input.desiredCount === null) throw invalidParameter(`desiredCount is required for a REPLICA service: how many tasks to keep running (0..${MAX_TASKS_PER_SERVICE}).`);
      const desiredCount = intIn(input.desiredCount, 'desiredCount', 0, MAX_TASKS_PER_SERVICE);
      const launch = readLaunch(input, cluster);
      const networkConfiguration = readNetwork(deps, input.networkConfiguration);
      const deploymentConfiguration = readDeploymentConfiguration(input.deploymentConfiguration);
      const grace = optInt(input, 'healthCheckGracePeriodSeconds');
      if (grace !== undefined) intIn(grace, 'healthCheckGracePeriodSeconds', 0, 2147483647);
      const propagateTags = optString(input, 'propagateTags') ?? 'NONE';
      if (!['TASK_DEFINITION', 'SERVICE', 'NONE'].includes(propagateTags)) throw invalidParameter(`propagateTags must be TASK_DEFINITION, SERVICE or NONE.`);
      const clientToken = optString(input, 'clientToken', { max: 36 });
      const tags = readTags(input);
      const lbRequests = readLoadBalancers(input.loadBalancers);
      checkAgainstTaskDefinition(lbRequests, def);
      const wantedPorts = requestedListenerPorts(tags, lbRequests.length);
      requestedDeregistrationDelay(tags);
      requestedHealthCheck(tags);
      await requireRuntime(deps, isolationFor(deps, cluster, def));

      // The only wait (ports are probed by binding them): everything after it runs without yielding, so the checks below hold at insert.
      const loadBalancers = await allocateListeners(deps, lbRequests, wantedPorts);
      const existing = repo.byName(cluster.name, name);
      if (existing && existing.status !== 'INACTIVE') {
        if (clientToken && existing.clientToken === clientToken) return { service: view(existing, true) };
        throw invalidParameter(`Creation of service was not idempotent: service '${name}' already exists in cluster '${cluster.name}'. Use UpdateService to change it.`);
      }
      const takenNow = new Set(repo.listLive().flatMap((s) => (s.loadBalancers ?? []).map((l) => l.listenerPort)));
      const clash = loadBalancers.find((l) => takenNow.has(l.listenerPort));
      if (clash) throw invalidParameter(`Port ${clash.listenerPort} became the listener port of another service meanwhile; try again${wantedPorts[0] === undefined ? '' : ' with another port'}.`);
      if (loadBalancers.length && wantedPorts[0] === undefined) tags.push({ key: LISTENER_PORT_TAG, value: loadBalancers.map((l) => l.listenerPort).join(',') });
      const now = deps.clock.now();
      const base = { taskDefinitionArn: def.taskDefinitionArn!, capacityProviderStrategy: launch?.capacityProviderStrategy, networkConfiguration };
      const svc: ServiceRecord = {
        id: randomUUID().replaceAll('-', ''),
        arn: serviceArn(cluster.name, name, deps.arns),
        name,
        clusterName: cluster.name,
        clusterArn: cluster.arn,
        status: 'ACTIVE',
        desiredCount,
        ...base,
        ...(launch?.launchType ? { launchType: launch.launchType } : {}),
        ...(loadBalancers.length ? { loadBalancers } : {}),
        deploymentConfiguration,
        healthCheckGracePeriodSeconds: grace ?? 0,
        propagateTags: propagateTags as ServiceRecord['propagateTags'],
        enableECSManagedTags: optBool(input, 'enableECSManagedTags') ?? false,
        enableExecuteCommand: optBool(input, 'enableExecuteCommand') ?? false,
        platformVersion: optString(input, 'platformVersion') ?? 'LATEST',
        createdAt: now,
        createdBy: `arn:aws:iam::${deps.arns.account}:root`,
        ...(clientToken ? { clientToken } : {}),
        deployments: [newDeployment(base, now, cluster, launch?.launchType)],
        events: [],
        steady: false,
        version: 1,
      };
      deps.db.transaction(() => {
        repo.insert(svc);
        if (tags.length) deps.tags.put(svc.arn, tags);
      })();
      wake();
      deps.loadBalancers?.wake();
      return { service: view(svc, true) };
    },

    UpdateService(input: Obj) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const svc = liveService(cluster, reqString(input, 'service'));
      if (svc.status !== 'ACTIVE') throw new ApiError(ErrorCode.ServiceNotActiveException, `Service ${svc.name} is ${svc.status}: it was deleted and cannot be updated.`);
      rejectUnsupported(input);
      const now = deps.clock.now();
      if (input.desiredCount !== undefined && input.desiredCount !== null) svc.desiredCount = intIn(input.desiredCount, 'desiredCount', 0, MAX_TASKS_PER_SERVICE);
      svc.deploymentConfiguration = readDeploymentConfiguration(input.deploymentConfiguration, svc.deploymentConfiguration);
      const grace = optInt(input, 'healthCheckGracePeriodSeconds');
      if (grace !== undefined) svc.healthCheckGracePeriodSeconds = intIn(grace, 'healthCheckGracePeriodSeconds', 0, 2147483647);
      const exec = optBool(input, 'enableExecuteCommand');
      if (exec !== undefined) svc.enableExecuteCommand = exec; // tasks started from now on (forceNewDeployment replaces the running ones)
      let redeploy = optBool(input, 'forceNewDeployment') ?? false;
      if (input.loadBalancers !== undefined && input.loadBalancers !== null) {
        const asked = readLoadBalancers(input.loadBalancers);
        if (!sameLoadBalancers(asked, svc.loadBalancers ?? [])) {
          throw invalidParameter(`Skiff cannot change the loadBalancers of an existing service yet. Send the service's current loadBalancers (or none), or create a new service.`);
        }
      }
      const tdRef = optString(input, 'taskDefinition');
      if (tdRef) {
        const def = activeDefinition(deps, tdRef);
        checkAgainstTaskDefinition(svc.loadBalancers ?? [], def);
        if (def.taskDefinitionArn !== svc.taskDefinitionArn) redeploy = true;
        svc.taskDefinitionArn = def.taskDefinitionArn!;
      }
      const launch = readLaunch(input, cluster);
      if (launch?.capacityProviderStrategy && JSON.stringify(launch.capacityProviderStrategy) !== JSON.stringify(svc.capacityProviderStrategy)) {
        svc.capacityProviderStrategy = launch.capacityProviderStrategy;
        delete svc.launchType;
        redeploy = true;
      }
      const network = readNetwork(deps, input.networkConfiguration);
      if (network && JSON.stringify(network) !== JSON.stringify(svc.networkConfiguration)) {
        svc.networkConfiguration = network;
        redeploy = true;
      }
      if (redeploy) {
        for (const d of svc.deployments) if (d.status === 'PRIMARY') (d.status = 'ACTIVE'), (d.updatedAt = now);
        svc.deployments.unshift(newDeployment(svc, now, cluster, svc.launchType));
      }
      svc.steady = false;
      save(svc);
      wake();
      return { service: view(svc) };
    },

    DescribeServices(input: Obj) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const refs = optStringList(input, 'services') ?? [];
      if (refs.length === 0) throw invalidParameter('services must name at least one service (name or ARN).');
      if (refs.length > DESCRIBE_SERVICES_MAX) throw invalidParameter(`DescribeServices takes at most ${DESCRIBE_SERVICES_MAX} services per call (got ${refs.length}).`);
      const withTags = (optStringList(input, 'include') ?? []).includes('TAGS');
      const services: Record<string, unknown>[] = [];
      const failures: { arn: string; reason: string }[] = [];
      for (const ref of refs) {
        const r = parseServiceRef(cluster.name, ref, deps.arns);
        const svc = r.cluster === cluster.name ? repo.byName(cluster.name, r.service) : undefined;
        if (svc) services.push(view(svc, withTags));
        else failures.push({ arn: missingServiceArn(ref, deps.arns), reason: 'MISSING' });
      }
      return { services, failures };
    },

    ListServices(input: Obj) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const launchType = optString(input, 'launchType');
      const scheduling = optString(input, 'schedulingStrategy');
      let list = repo.listLive(cluster.name);
      if (launchType) list = list.filter((s) => launchType === 'FARGATE' && s.launchType === 'FARGATE');
      if (scheduling && scheduling !== 'REPLICA') list = [];
      const { page, nextToken } = paginate(
        list.map((s) => s.arn),
        optInt(input, 'maxResults'),
        optString(input, 'nextToken'),
        { defaultMax: LIST_SERVICES_DEFAULT_PAGE, query: `ListServices:${cluster.name}:${launchType ?? ''}:${scheduling ?? ''}` },
      );
      return { serviceArns: page, ...(nextToken ? { nextToken } : {}) };
    },

    DeleteService(input: Obj) {
      const cluster = activeCluster(deps, optString(input, 'cluster'));
      const svc = liveService(cluster, reqString(input, 'service'));
      if (svc.status !== 'ACTIVE') throw new ApiError(ErrorCode.ServiceNotActiveException, `Service ${svc.name} is already ${svc.status}.`);
      const force = optBool(input, 'force') ?? false;
      if (svc.desiredCount > 0 && !force) {
        throw invalidParameter(`The service cannot be stopped while it is scaled above 0. Set desiredCount to 0 with UpdateService first, or delete with force.`);
      }
      svc.desiredCount = 0;
      svc.status = 'DRAINING';
      svc.steady = false;
      save(svc);
      wake();
      return { service: view(svc) };
    },
  };
}

/**
 * The `arn` of DescribeServices' failure for a service that is not there, as ECS
 * gives it: an ARN as sent, a name as `arn:aws:ecs:<region>:<account>:service/<name>`
 * (no cluster in it).
 */
export function missingServiceArn(ref: string, arns: ArnContext): string {
  return isArn(ref) ? ref : `arn:${arns.partition ?? 'aws'}:ecs:${arns.region}:${arns.account}:service/${ref}`;
}
