/**
 * Server configuration, resolved once into a frozen object that is the only
 * thing the rest of the server reads: every SKIFF_* setting the server knows,
 * the core ones here and each part's in sections.ts. Precedence: flags >
 * environment > defaults. All problems are reported together, in one ConfigError.
 */
import type { Isolation } from '../model/isolation.ts';
import { resolve } from 'node:path';
import { DEFAULT_PORT } from './endpoint.ts';
import { DEFAULT_PRICE_BOOK, loadPriceBook, PriceBookError, type PriceBook } from '../metering/pricing.ts';
import { diskSettingsFromEnv, type DiskSettings } from '../store/disk-guard.ts';
import { parseUpstream } from '../model/dns-upstream.ts';
import { HostPortError, parseTaskHostPorts, type TaskHostPort } from '../network/host-boundary.ts';
import {
  parseAutoscalingSettings,
  parseBandwidthSettings,
  type BandwidthSettings,
  parseEphemeralStorageSettings,
  parseIsolation,
  type EphemeralStorageSettings,
  parseLoadBalancerSettings,
  parseLogSettings,
  parseMetadataSettings,
  parseMetricsSettings,
  parseServiceSettings,
  type AutoscalingSettings,
  type LoadBalancerSettings,
  type LogSettings,
  type MetadataSettings,
  type MetricsSettings,
  type ServiceSettings,
} from './sections.ts';
import { parseDatabaseSetting, type DatabaseSetting } from './database-setting.ts';

export interface ServerConfig {
  dataDir: string;
  /** PostgreSQL holding the control plane's state (`--database`); undefined: SQLite in the data dir. */
  database?: DatabaseSetting;
  host: string;
  port: number;
  region: string;
  accountId: string;
  /** CIDR of the default VPC created on first start (three /20 subnets inside it, like AWS's default VPC). */
  defaultVpcCidr: string;
  /** Paths of runc and conmon; undefined = the driver's default (Debian's locations). */
  runcPath?: string;
  conmonPath?: string;
  /** cgroup parent name under every controller (`/sys/fs/cgroup/<ctrl>/<cgroupRoot>/<task>`). */
  cgroupRoot: string;
  /** Prefix of task network namespaces (`<prefix><taskId>`). */
  netnsPrefix: string;
  /** Prefix of host-side veth names (≤ 7 chars). */
  vethPrefix: string;
  /** Prefix of subnet bridge names (≤ 7 chars; 8 hex of the subnet id follow). */
  bridgePrefix: string;
  /** nftables table holding Skiff's network boundary rules. */
  nftTable: string;
  /** Registries reached over plain HTTP besides loopback ones (host:port). */
  insecureRegistries: string[];
  /** Docker config.json-style file with registry credentials (as the ECS agent's dockercfg auth). */
  registryAuthFile?: string;
  /** Prices metering bills at: the operator's file (`--prices`, SKIFF_PRICES_FILE) over the us-east-1 defaults. */
  prices: PriceBook;
  pricesFile?: string;
  /** How often running tasks' cgroup usage is sampled for right-sizing (SKIFF_STATS_INTERVAL_MS, default 10 s). */
  statsIntervalMs: number;
  /** The operator's root API key (SKIFF_ROOT_ACCESS_KEY_ID / SKIFF_ROOT_SECRET_ACCESS_KEY); generated on first start when absent. */
  rootAccessKeyId?: string;
  rootSecretAccessKey?: string;
  /** Serve HTTPS: the operator's certificate and key files, or `selfSigned` (one Skiff makes in the data dir). */
  tls?: { certFile: string; keyFile: string } | 'selfSigned';
  /** The host may open connections to task addresses whatever their security groups say (`--no-host-access`, SKIFF_HOST_ACCESS=0 turn it off). */
  hostAccess: boolean;
  /** Host ports tasks may open (`--task-host-port 5432/tcp`, SKIFF_TASK_HOST_PORTS=5432/tcp,8125/udp); nothing else of the host but DNS and metadata. */
  taskHostPorts: TaskHostPort[];
  /** Tasks may reach outside networks as on AWS (network/egress.ts); `--no-egress` / SKIFF_EGRESS=0 turn it off. */
  egress: boolean;
  /** Interfaces egress leaves through (`--egress-interface`, SKIFF_EGRESS_INTERFACES; default: the default routes' devices). */
  egressInterfaces?: string[];
  /** Resolvers the task DNS forwards to (`--dns-upstream IP[:PORT]`, SKIFF_DNS_UPSTREAMS; default: /etc/resolv.conf's). */
  dnsUpstreams?: string[];
  /** Ready task networks kept per subnet in use (SKIFF_WARM_POOL_SIZE, default 8; 0 = no pool). */
  warmPoolSize: number;
  /** Containers created at once (SKIFF_MAX_CONCURRENT_CREATES, default 4 per CPU core). */
  maxConcurrentCreates?: number;
  /** How long an image tag's resolution is reused without asking the registry, ms (SKIFF_TAG_CACHE_TTL_MS, default 5000; 0 = always ask). */
  tagCacheTtlMs: number;
  /** The user namespace every task runs in: container ids 0..size-1 = host ids hostId.. (`--userns-remap`, SKIFF_USERNS_REMAP; `off` disables). */
  userns?: { hostId: number; size: number };
  /** The runtime of tasks whose task definition and cluster choose none (`--isolation`, SKIFF_ISOLATION; default runc). */
  isolation: Isolation;
  /** The service scheduler's and Spot's settings (SKIFF_SERVICE_*, SKIFF_SPOT_*). */
  services: Readonly<ServiceSettings>;
  /** Log shipping and retention (SKIFF_LOGS_*, SKIFF_CONTAINER_LOG_MAX_BYTES). */
  logs: Readonly<LogSettings>;
  /** The /metrics bearer token (SKIFF_METRICS_TOKEN[_FILE]). */
  metrics: Readonly<MetricsSettings>;
  /** Ephemeral storage enforcement (SKIFF_EPHEMERAL_STORAGE_SCALE, SKIFF_EPHEMERAL_STORAGE_INTERVAL_MS). */
  ephemeralStorage: Readonly<EphemeralStorageSettings>;
  /** Bandwidth by task size: the table's multiplier (`--bandwidth-scale`, SKIFF_BANDWIDTH_SCALE; default 1). */
  bandwidth: Readonly<BandwidthSettings>;
  /** The task metadata endpoint (SKIFF_METADATA_PORT, SKIFF_TASK_CREDENTIALS_TTL_MS). */
  metadata: Readonly<MetadataSettings>;
  /** The load balancers (SKIFF_LB_*; they bind to `host`). */
  loadBalancers: Readonly<LoadBalancerSettings>;
  /** The autoscaler (SKIFF_AUTOSCALING_*). */
  autoscaling: Readonly<AutoscalingSettings>;
  /** The data dir's disk guard (SKIFF_STORE_RESERVE_MIB, SKIFF_MIN_FREE_MIB, SKIFF_DISK_CHECK_MS). */
  disk: Readonly<DiskSettings>;
  /** Admission control: tasks may reserve this × the host's CPU units and memory (`--overcommit`, SKIFF_OVERCOMMIT; default 1.0). */
  overcommit: number;
  /** MiB of the host's memory kept for the host and Skiff, not offered to tasks (`--reserved-memory`, SKIFF_RESERVED_MEMORY_MIB; default 512). */
  reservedMemoryMiB: number;
}

export interface ServerFlags {
  dataDir?: string;
  database?: string;
  host?: string;
  port?: string | number;
  region?: string;
  vpcCidr?: string;
  insecureRegistry?: string[];
  registryAuth?: string;
  prices?: string;
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  usernsRemap?: string;
  /** `--isolation`: runc, gvisor or microvm. */
  isolation?: string;
  /** false: the host may not open connections to task addresses (`--no-host-access`). */
  hostAccess?: boolean;
  /** Host ports open to tasks (`--task-host-port`, repeatable). */
  taskHostPort?: string[];
  overcommit?: string;
  reservedMemory?: string;
  /** false: `--no-egress`. */
  egress?: boolean;
  egressInterface?: string[];
  dnsUpstream?: string[];
  /** Multiplies the bandwidth table (`--bandwidth-scale`). */
  bandwidthScale?: string;
}

export class ConfigError extends Error {}

/** Memory kept for the host and Skiff when the operator says nothing (`--reserved-memory`). */
export const DEFAULT_RESERVED_MEMORY_MIB = 512;
/** Bounds of `--overcommit`. */
export const MIN_OVERCOMMIT = 0.1;
export const MAX_OVERCOMMIT = 100;

export function resolveServerConfig(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): Readonly<ServerConfig> {
  const problems: string[] = [];
  const port = Number(flags.port ?? env.SKIFF_PORT ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`--port must be 1..65535 (got ${flags.port ?? env.SKIFF_PORT})`);
  const dataDir = flags.dataDir ?? env.SKIFF_DATA_DIR ?? '/var/lib/skiff';
  const database = parseDatabaseSetting(flags.database ?? env.SKIFF_DATABASE_URL, problems);
  const region = flags.region ?? env.SKIFF_REGION ?? env.AWS_REGION ?? 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) problems.push(`--region must look like us-east-1 (got ${region})`);
  const vpcCidr = flags.vpcCidr ?? env.SKIFF_VPC_CIDR ?? '172.31.0.0/16';
  if (!/^\d+\.\d+\.\d+\.\d+\/16$/.test(vpcCidr)) problems.push(`--vpc-cidr must be a /16 such as 172.31.0.0/16 (got ${vpcCidr})`);
  const prefix = env.SKIFF_RESOURCE_PREFIX ?? 'skiff';
  if (!/^[a-z][a-z0-9]{0,9}$/.test(prefix)) problems.push(`SKIFF_RESOURCE_PREFIX must be 1-10 lowercase letters/digits (got ${prefix})`);
  const pricesFile = flags.prices ?? env.SKIFF_PRICES_FILE;
  let prices: PriceBook = DEFAULT_PRICE_BOOK;
  if (pricesFile) {
    try {
      prices = loadPriceBook(resolve(pricesFile));
    } catch (e) {
      if (!(e instanceof PriceBookError)) throw e;
      problems.push(`--prices: ${e.message}`);
    }
  }
  const statsIntervalMs = Number(env.SKIFF_STATS_INTERVAL_MS ?? 10_000);
  if (!Number.isInteger(statsIntervalMs) || statsIntervalMs < 50 || statsIntervalMs > 3_600_000) {
    problems.push(`SKIFF_STATS_INTERVAL_MS must be a whole number of milliseconds from 50 to 3600000 (got ${env.SKIFF_STATS_INTERVAL_MS})`);
  }
  const warmPoolSize = Number(env.SKIFF_WARM_POOL_SIZE ?? 8);
  if (!Number.isInteger(warmPoolSize) || warmPoolSize < 0 || warmPoolSize > 256) {
    problems.push(`SKIFF_WARM_POOL_SIZE must be a whole number from 0 to 256 (got ${env.SKIFF_WARM_POOL_SIZE})`);
  }
  const maxConcurrentCreates = env.SKIFF_MAX_CONCURRENT_CREATES ? Number(env.SKIFF_MAX_CONCURRENT_CREATES) : undefined;
  if (maxConcurrentCreates !== undefined && (!Number.isInteger(maxConcurrentCreates) || maxConcurrentCreates < 1 || maxConcurrentCreates > 1024)) {
    problems.push(`SKIFF_MAX_CONCURRENT_CREATES must be a whole number from 1 to 1024 (got ${env.SKIFF_MAX_CONCURRENT_CREATES})`);
  }
  const tagCacheTtlMs = Number(env.SKIFF_TAG_CACHE_TTL_MS ?? 5000);
  if (!Number.isInteger(tagCacheTtlMs) || tagCacheTtlMs < 0 || tagCacheTtlMs > 86_400_000) {
    problems.push(`SKIFF_TAG_CACHE_TTL_MS must be a whole number of milliseconds from 0 to 86400000 (got ${env.SKIFF_TAG_CACHE_TTL_MS})`);
  }
  const rootId = env.SKIFF_ROOT_ACCESS_KEY_ID || undefined;
  const rootSecret = env.SKIFF_ROOT_SECRET_ACCESS_KEY || undefined;
  if (!!rootId !== !!rootSecret) problems.push('set both SKIFF_ROOT_ACCESS_KEY_ID and SKIFF_ROOT_SECRET_ACCESS_KEY, or neither (then the first start generates a root key)');
  if (rootSecret !== undefined && rootSecret.length < 8) problems.push('SKIFF_ROOT_SECRET_ACCESS_KEY must be at least 8 characters');
  const tlsCert = flags.tlsCert ?? env.SKIFF_TLS_CERT;
  const tlsKey = flags.tlsKey ?? env.SKIFF_TLS_KEY;
  if (!!tlsCert !== !!tlsKey) problems.push('--tls-cert and --tls-key go together');
  if (tlsCert && flags.tls) problems.push('--tls (a self-signed certificate) and --tls-cert/--tls-key exclude each other');
  const remap = flags.usernsRemap ?? env.SKIFF_USERNS_REMAP ?? '100000:65536';
  let userns: { hostId: number; size: number } | undefined;
  if (remap !== 'off') {
    const m = /^(\d+):(\d+)$/.exec(remap);
    const hostId = Number(m?.[1]);
    const size = Number(m?.[2]);
    if (!m || hostId < 1 || size < 65536 || hostId + size > 2 ** 32 - 1) problems.push(`--userns-remap must be HOSTID:SIZE with HOSTID ≥ 1 and SIZE ≥ 65536 (e.g. 100000:65536), or off (got ${remap})`);
    else userns = { hostId, size };
  }
  let taskHostPorts: TaskHostPort[] = [];
  try {
    taskHostPorts = parseTaskHostPorts(flags.taskHostPort ?? env.SKIFF_TASK_HOST_PORTS?.split(',') ?? []);
  } catch (e) {
    if (!(e instanceof HostPortError)) throw e;
    problems.push(`--task-host-port / SKIFF_TASK_HOST_PORTS: ${e.message.replace(/\n/g, '; ')}`);
  }
  const host = flags.host ?? env.SKIFF_HOST ?? '127.0.0.1';
  const sections = {
    isolation: parseIsolation(flags.isolation, env, problems),
    services: Object.freeze(parseServiceSettings(env, problems)),
    logs: Object.freeze(parseLogSettings(env, problems)),
    metrics: Object.freeze(parseMetricsSettings(env, problems)),
    metadata: Object.freeze(parseMetadataSettings(env, problems)),
    ephemeralStorage: Object.freeze(parseEphemeralStorageSettings(env, problems)),
    bandwidth: Object.freeze(parseBandwidthSettings(env, problems, flags.bandwidthScale)),
    loadBalancers: Object.freeze(parseLoadBalancerSettings(env, host, problems)),
    autoscaling: Object.freeze(parseAutoscalingSettings(env, problems)),
    disk: Object.freeze(diskSettings(env, problems)),
  };
  const overcommitIn = flags.overcommit ?? env.SKIFF_OVERCOMMIT;
  const overcommit = Number(overcommitIn ?? 1);
  if (!(overcommit >= MIN_OVERCOMMIT && overcommit <= MAX_OVERCOMMIT) || overcommitIn?.trim() === '') {
    problems.push(`--overcommit / SKIFF_OVERCOMMIT must be a ratio from ${MIN_OVERCOMMIT} to ${MAX_OVERCOMMIT}, e.g. 1.5 to let tasks reserve 1.5× the host's CPU and memory (got ${overcommitIn})`);
  }
  const reservedIn = flags.reservedMemory ?? env.SKIFF_RESERVED_MEMORY_MIB;
  const reservedMemoryMiB = Number(reservedIn ?? DEFAULT_RESERVED_MEMORY_MIB);
  if (!Number.isInteger(reservedMemoryMiB) || reservedMemoryMiB < 0 || reservedIn?.trim() === '') {
    problems.push(`--reserved-memory / SKIFF_RESERVED_MEMORY_MIB must be a whole number of MiB ≥ 0 kept for the host and Skiff (got ${reservedIn})`);
  }
  const upstreams = listSetting('u', flags.dnsUpstream, env.SKIFF_DNS_UPSTREAMS).u ?? [];
  for (const u of upstreams.join() === 'none' ? [] : upstreams) {
    if (!isValidUpstream(u)) problems.push(`--dns-upstream / SKIFF_DNS_UPSTREAMS: "${u}" is not IP[:PORT] (e.g. 10.0.0.2 or 10.0.0.2:5353), or give none`);
  }
  if (problems.length) throw new ConfigError(problems.join('\n'));
  return Object.freeze({
    dataDir: resolve(dataDir),
    ...(database ? { database } : {}),
    host,
    port,
    region,
    accountId: env.SKIFF_ACCOUNT_ID ?? '123456789012',
    defaultVpcCidr: vpcCidr,
    runcPath: env.SKIFF_RUNC,
    conmonPath: env.SKIFF_CONMON,
    cgroupRoot: prefix,
    netnsPrefix: `${prefix}-`,
    vethPrefix: prefix === 'skiff' ? 'sk' : prefix.slice(0, 7),
    bridgePrefix: `${prefix.slice(0, 6)}b`,
    nftTable: prefix,
    insecureRegistries: flags.insecureRegistry ?? (env.SKIFF_INSECURE_REGISTRIES?.split(',').filter(Boolean) ?? []),
    registryAuthFile: flags.registryAuth ?? env.SKIFF_REGISTRY_AUTH_FILE,
    prices,
    ...(pricesFile ? { pricesFile: resolve(pricesFile) } : {}),
    statsIntervalMs,
    warmPoolSize,
    ...(maxConcurrentCreates ? { maxConcurrentCreates } : {}),
    tagCacheTtlMs,
    hostAccess: flags.hostAccess !== false && env.SKIFF_HOST_ACCESS !== '0' && env.SKIFF_HOST_ACCESS !== 'false',
    taskHostPorts,
    overcommit,
    reservedMemoryMiB,
    egress: flags.egress !== false && env.SKIFF_EGRESS !== '0' && env.SKIFF_EGRESS !== 'false',
    ...listSetting('egressInterfaces', flags.egressInterface, env.SKIFF_EGRESS_INTERFACES),
    ...listSetting('dnsUpstreams', flags.dnsUpstream, env.SKIFF_DNS_UPSTREAMS),
    ...(userns ? { userns } : {}),
    ...(rootId && rootSecret ? { rootAccessKeyId: rootId, rootSecretAccessKey: rootSecret } : {}),
    ...(tlsCert && tlsKey ? { tls: { certFile: resolve(tlsCert), keyFile: resolve(tlsKey) } } : flags.tls || env.SKIFF_TLS === '1' ? { tls: 'selfSigned' as const } : {}),
    ...sections,
  });
}

/** The disk guard's settings (parsed by store/disk-guard.ts), its problem added to the others. */
function diskSettings(env: NodeJS.ProcessEnv, problems: string[]): DiskSettings {
  try {
    return diskSettingsFromEnv(env);
  } catch (e) {
    problems.push((e as Error).message);
    return diskSettingsFromEnv({});
  }
}

function isValidUpstream(u: string): boolean {
  try {
    parseUpstream(u);
    return true;
  } catch {
    return false;
  }
}

/** A repeatable flag over a comma-separated variable; absent when neither is given. */
function listSetting<K extends string>(key: K, flag: string[] | undefined, env: string | undefined): { [k in K]?: string[] } {
  const list = flag ?? env?.split(',').map((x) => x.trim()).filter(Boolean);
  return (list ? { [key]: list } : {}) as { [k in K]?: string[] };
}
