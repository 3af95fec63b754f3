/**
 * Server configuration, resolved once into a frozen object that is the only
 * thing the rest of the server reads. Precedence: flags > environment > defaults.
 * All problems are reported together.
 */
import { resolve } from 'node:path';

export interface ServerConfig {
  dataDir: string;
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
}

export interface ServerFlags {
  dataDir?: string;
  host?: string;
  port?: string | number;
  region?: string;
  vpcCidr?: string;
  insecureRegistry?: string[];
  registryAuth?: string;
}

export class ConfigError extends Error {}

export const DEFAULT_PORT = 8080;
export const DEFAULT_ENDPOINT = `http://127.0.0.1:${DEFAULT_PORT}`;

export function resolveServerConfig(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): Readonly<ServerConfig> {
  const problems: string[] = [];
  const port = Number(flags.port ?? env.SKIFF_PORT ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`--port must be 1..65535 (got ${flags.port ?? env.SKIFF_PORT})`);
  const dataDir = flags.dataDir ?? env.SKIFF_DATA_DIR ?? '/var/lib/skiff';
  const region = flags.region ?? env.SKIFF_REGION ?? env.AWS_REGION ?? 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) problems.push(`--region must look like us-east-1 (got ${region})`);
  const vpcCidr = flags.vpcCidr ?? env.SKIFF_VPC_CIDR ?? '172.31.0.0/16';
  if (!/^\d+\.\d+\.\d+\.\d+\/16$/.test(vpcCidr)) problems.push(`--vpc-cidr must be a /16 such as 172.31.0.0/16 (got ${vpcCidr})`);
  const prefix = env.SKIFF_RESOURCE_PREFIX ?? 'skiff';
  if (!/^[a-z][a-z0-9]{0,9}$/.test(prefix)) problems.push(`SKIFF_RESOURCE_PREFIX must be 1-10 lowercase letters/digits (got ${prefix})`);
  if (problems.length) throw new ConfigError(problems.join('\n'));
  return Object.freeze({
    dataDir: resolve(dataDir),
    host: flags.host ?? env.SKIFF_HOST ?? '127.0.0.1',
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
  });
}
