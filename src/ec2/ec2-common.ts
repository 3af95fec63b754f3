/**
 * What the EC2 Query handlers share: their dependencies (`Ec2Deps`), the
 * handler shape, EC2's not-found / malformed-id / DryRun errors, `Filter.N`
 * matching, ARNs and the port view of a rule.
 */
import type { Db } from '../store/db.ts';
import type { NetworksRepo, SubnetRecord } from '../store/networks-repo.ts';
import type { RoutesRepo } from '../store/routes-repo.ts';
import { Ec2Error } from './errors.ts';
import { filterMatches, type Filter, type QueryReader } from './query.ts';
import type { XmlValue } from './xml.ts';

export interface Ec2Deps {
  db: Db;
  networks: NetworksRepo;
  region: string;
  accountId: string;
  /** Prefix of subnet bridge names (`<prefix><8 chars of the subnet id>`). */
  bridgePrefix: string;
  /** Brings every running task's firewall up to date with the store. */
  enforce?: () => Promise<void>;
  /** After a subnet left the store: release what the host keeps for it (warm namespaces, its bridge). */
  subnetRemoved?: (subnet: SubnetRecord) => Promise<void>;
  /** Before a subnet is deleted: give back addresses held for it that belong to no task (warm pool). */
  releaseIdleAddresses?: (subnetId: string) => Promise<void>;
  log?: (msg: string) => void;
  /** NAT gateways and route tables (route-api.ts); absent: those actions are not served. */
  routes?: RoutesRepo;
  now?: () => number;
}

export type Handler = (q: QueryReader) => Promise<Record<string, XmlValue>> | Record<string, XmlValue>;

export const notFoundVpc = (id: string) => new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${id}' does not exist`);
export const notFoundSubnet = (id: string) => new Ec2Error('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`);
export const notFoundGroup = (id: string) => new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
export const dryRun = () => new Ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);

const ID_RE = { vpc: /^vpc-[0-9a-f]{8,17}$/, subnet: /^subnet-[0-9a-f]{8,17}$/, sg: /^sg-[0-9a-f]{8,17}$/, sgr: /^sgr-[0-9a-f]{8,17}$/ };

/** The id, checked against its kind's format (EC2's `...Malformed` error otherwise). */
export function checkId(kind: keyof typeof ID_RE, id: string): string {
  if (!ID_RE[kind].test(id)) {
    const code = ({ vpc: 'InvalidVpcID.Malformed', subnet: 'InvalidSubnetID.Malformed', sg: 'InvalidGroupId.Malformed', sgr: 'InvalidSecurityGroupRuleId.Malformed' } as const)[kind];
    throw new Ec2Error(code, `Invalid id: "${id}" (expecting "${kind}-...")`);
  }
  return id;
}

/** The items every `Filter.N` matches (a list-valued field matches when any value does). */
export function applyFilters<T>(items: T[], filters: Filter[], field: (item: T, name: string) => string | string[] | undefined): T[] {
  return items.filter((item) =>
    filters.every((f) => {
      const v = field(item, f.name);
      return Array.isArray(v) ? v.some((x) => filterMatches(f.values, x)) : filterMatches(f.values, v);
    }),
  );
}

/** The ARN of one of this account's EC2 resources (`subnet/<id>`, `security-group/<id>`). */
export function ec2Arn(deps: Pick<Ec2Deps, 'region' | 'accountId'>, resource: string): string {
  return `arn:aws:ec2:${deps.region}:${deps.accountId}:${resource}`;
}

/** Ports as EC2 shows them: tcp/udp their range, icmp type/code with -1 for all, nothing for other protocols. */
export function portsView(r: { protocol: string; fromPort?: number; toPort?: number }): { fromPort?: number; toPort?: number } {
  if (r.protocol === 'tcp' || r.protocol === 'udp') return { fromPort: r.fromPort ?? 0, toPort: r.toPort ?? 65535 };
  if (r.protocol === 'icmp') return { fromPort: r.fromPort ?? -1, toPort: r.toPort ?? -1 };
  return {};
}
