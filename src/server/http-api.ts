/**
 * The HTTP API, built last from the parts it serves: the ECS, Secrets Manager,
 * Application Auto Scaling and CloudWatch Logs JSON protocols, the EC2 and IAM
 * query APIs, EFS's REST-JSON routes, the guard that authenticates and authorizes every request, and Skiff's
 * own routes (keys, roles, master key, tasks, warm pool, Spot, metrics, load
 * balancers, costs, dashboard).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config/server-config.ts';
import type { Repos } from '../store/repos.ts';
import type { Clock } from '../util/clock.ts';
import type { Host } from './host.ts';
import type { AgentSide } from './agent-side.ts';
import type { ControlPlane } from './control-plane.ts';
import type { Identity } from './identity.ts';
import type { DiskGuard } from '../store/disk-guard.ts';
import { buildHttpServer } from '../api/http-server.ts';
import { ecsProtocol } from '../control/ecs-protocol.ts';
import { executeCommandAuditDetail } from '../control/execute-command.ts';
import { ExecSessions } from '../exec/sessions.ts';
import { skiffRoutes } from '../control/skiff-routes.ts';
import { costRoutes } from '../control/cost-routes.ts';
import { spotRoutes } from '../control/spot-routes.ts';
import { warmPoolRoutes } from '../control/warm-pool-routes.ts';
import { selfSignedCertificate } from '../auth/bootstrap.ts';
import { ApiGuard } from '../auth/guard.ts';
import { ecsPassedRoles } from '../auth/ecs-pass-role.ts';
import { authRoutes } from '../auth/routes.ts';
import { ecsResources } from '../auth/ecs-resources.ts';
import { roleRoutes } from '../auth/roles-routes.ts';
import { masterKeyRoutes } from '../secrets/master-key-routes.ts';
import { secretResources, secretsProtocol, SECRETS_TARGET_PREFIX } from '../secrets/secrets-protocol.ts';
import { AUTOSCALING_SERVICE, AUTOSCALING_TARGET_PREFIX, autoscalingProtocol, autoscalingResources } from '../autoscaling/protocol.ts';
import { LOGS_TARGET_PREFIX } from '../logs/log-service.ts';
import { loadBalancerRoutes } from '../lb/routes.ts';
import { Ec2Api } from '../ec2/ec2-protocol.ts';
import { IamApi } from '../iam/iam-protocol.ts';
import { EfsApi } from '../efs/efs-api.ts';
import { efsContentsRoute, efsRouteAction, efsRoutes } from '../efs/efs-routes.ts';
import { dashboardRoutes, isDashboardPath } from '../dashboard/routes.ts';
import type { PlatformMetrics } from '../metrics/platform-metrics.ts';
import { TaskResourceReader } from '../metrics/task-resources.ts';
import { metricsBearerHook, metricsRoutes, type MetricsRouteDeps } from '../metrics/routes.ts';

export interface HttpApiDeps {
  host: Host;
  repos: Repos;
  identity: Identity;
  agentSide: AgentSide;
  control: ControlPlane;
  disk: DiskGuard;
  metrics: PlatformMetrics;
  clock: Clock;
  log: (msg: string) => void;
  /** Whether `/healthz` answers 200 (start-up finished). */
  isReady: () => boolean;
  /** This server's `ws://host:port` once it listens (exec sessions' stream URLs). */
  streamBase: () => string;
}

export interface HttpApi {
  app: FastifyInstance;
  /** ExecuteCommand's sessions, for the stream route attached to the app's server. */
  execSessions: ExecSessions;
}

export async function buildHttpApi(c: Readonly<ServerConfig>, deps: HttpApiDeps): Promise<HttpApi> {
  const { host, repos, agentSide, control, metrics, clock, log } = deps;
  const { auth, secrets, taskIdentity: identity } = deps.identity;
  const { driver, runtimeDir } = host;
  const { db } = repos;
  const { logs, warmPool, enforcer, network } = agentSide;
  const execSessions = new ExecSessions({ streamBase: deps.streamBase });
  const ecs = ecsProtocol(control.ecs, execSessions);
  const ids = { region: c.region, account: c.accountId };
  const ec2 = new Ec2Api({
    db,
    networks: repos.networks,
    region: c.region,
    accountId: c.accountId,
    bridgePrefix: c.bridgePrefix,
    enforce: () => enforcer.sync(),
    releaseIdleAddresses: (subnetId) => warmPool.forgetSubnet(subnetId),
    subnetRemoved: async (s) => network.removeSubnet?.(s.bridge),
    log,
    routes: repos.routes,
  });
  const iam = new IamApi({ roles: identity.roles, log });
  const efs = new EfsApi({ db, efs: repos.efs, tags: repos.tags, networks: repos.networks, host: agentSide.efs, region: c.region, accountId: c.accountId, now: () => clock.now() });
  const arns = control.ecs.arns;
  const guard = new ApiGuard({
    keys: auth.keys,
    audit: auth.audit,
    accountId: c.accountId,
    region: c.region,
    services: { [ecs.targetPrefix]: 'ecs', [SECRETS_TARGET_PREFIX]: 'secretsmanager', [AUTOSCALING_TARGET_PREFIX]: AUTOSCALING_SERVICE, [LOGS_TARGET_PREFIX]: 'logs' },
    queryService: [ec2.service, iam.service],
    resourcesFor: (service, op, input) =>
      service === 'ecs'
        ? ecsResources(op, input, { arns, latestRevision: (f) => repos.taskDefinitions.latestActive(f)?.revision })
        : service === 'secretsmanager'
          ? secretResources(secrets, op, input, ids)
          : service === AUTOSCALING_SERVICE
            ? autoscalingResources(control.autoscalingRepo, input)
            : service === 'logs'
              ? logs.resources(op, input)
              : service === iam.service
                ? iam.resources(op, input)
                : ['*'],
    auditDetail: (service, op, input) => (service === 'ecs' && op === 'ExecuteCommand' ? executeCommandAuditDetail(input) : undefined),
    passedRoles: (service, op, input) =>
      // Checked on the ARN of the role it reaches (IAM roles may have a path: role/team/app).
      (service === 'ecs'
        ? ecsPassedRoles(op, input, { arns, taskDefinitionRoles: (f, r) => (r === undefined ? repos.taskDefinitions.latestActive(f) : repos.taskDefinitions.get(f, r)) })
        : []
      ).map((p) => ({ ...p, roleArn: identity.roles.byArn(p.roleArn)?.arn ?? p.roleArn })),
    exempt: isDashboardPath, // the dashboard checks its own session cookie, then calls the API signed as the session's key
    restAction: efsRouteAction,
    routeResource: (params) =>
      params.cluster // GET /skiff/v1/clusters/<cluster ARN>/access-keys: a key limited to its clusters asks about those only
        ? params.cluster
        : params.taskId
        ? repos.tasks.get(params.taskId.split('/').pop()!)?.arn
        : params.roleName
          ? identity.roles.arnOf(params.roleName)
          : (params.FileSystemId ?? params.ResourceId)?.startsWith('fs-')
            ? efs.fileSystemArn(params.FileSystemId ?? params.ResourceId)
            : (params.AccessPointId ?? params.ResourceId)?.startsWith('fsap-')
              ? efs.accessPointArn(params.AccessPointId ?? params.ResourceId)
              : undefined,
    sessions: { lookup: (id) => identity.credentials.lookup(id), rolePolicy: (arn) => identity.roles.byArn(arn)?.policy },
  });
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (c.tls) {
    const files = c.tls === 'selfSigned' ? await selfSignedCertificate(c.dataDir, [c.host]) : c.tls;
    tls = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
    log(`serving HTTPS with the certificate ${files.certFile}`);
  }
  const metricsDeps: MetricsRouteDeps = {
    metrics,
    images: agentSide.images,
    settings: c.metrics,
    unfinished: () => repos.tasks.listUnfinished(),
    reader: new TaskResourceReader({ driver }),
  };
  const app = buildHttpServer({
    protocols: [
      ecs,
      secretsProtocol(secrets, ids),
      autoscalingProtocol(control.autoscalingRepo, control.autoscaler, { ...ids, now: () => clock.now() }),
      logs.protocol(),
    ],
    query: [ec2, iam],
    auth: guard,
    tls,
    beforeAuth: (a) => metricsBearerHook(a, metricsDeps),
    onRequestDone: metrics.observeRequest,
    routes: (a) => {
      authRoutes(a, { keys: auth.keys, audit: auth.audit });
      roleRoutes(a, { roles: identity.roles });
      masterKeyRoutes(a, { dataDir: c.dataDir, db, master: auth.master, log });
      skiffRoutes(a, { ...repos, warmPool }, { logPath: (runtimeId) => driver.logPath(runtimeId) });
      warmPoolRoutes(a, warmPool);
      spotRoutes(a, repos, control.spot);
      metricsRoutes(a, metricsDeps);
      loadBalancerRoutes(a, control.loadBalancers);
      efsRoutes(a, efs, log);
      efsContentsRoute(a, agentSide.efs, efs);
      costRoutes(a, { ...repos, clock }, { prices: c.prices, pricesSource: c.pricesFile ?? 'defaults', imagesRoot: join(c.dataDir, 'images') });
      dashboardRoutes(a, { keys: auth.keys, audit: auth.audit, region: c.region, principalArn: (k) => guard.principalArn(k), secure: !!tls });
    },
    isReady: deps.isReady,
    storeFull: (err) => (deps.disk.noteFailure(err), deps.disk.fullMessage()),
    log,
  });
  return { app, execSessions };
}
