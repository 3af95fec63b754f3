/**
 * The EC2 subset Skiff serves over the EC2 Query protocol (`POST /`, form body
 * `Action=...&Version=2016-11-15&...`, XML answers): VPCs, subnets and security
 * groups, so `aws ec2 ... --endpoint-url` and @aws-sdk/client-ec2 work.
 *
 *   DescribeVpcs, CreateVpc, DeleteVpc, DescribeSubnets, CreateSubnet, DeleteSubnet,
 *   CreateSecurityGroup, DescribeSecurityGroups, DeleteSecurityGroup,
 *   AuthorizeSecurityGroupIngress/Egress, RevokeSecurityGroupIngress/Egress,
 *   ModifySubnetAttribute, NAT gateways and route tables (route-api.ts)
 *
 * IAM actions are `ec2:<Action>` on `*`. Every change is committed to the store
 * before it is enforced; rule changes are enforced (every running task's
 * firewall rewritten) before the response is sent.
 *
 * This module decodes the request and maps errors to EC2's XML; the actions
 * live in vpc-api.ts (VPCs, subnets) and security-group-api.ts (groups, rules).
 */
import { randomUUID } from 'node:crypto';
import { Ec2Error, errorXml, toEc2Error } from './errors.ts';
import { parseQueryBody, QueryReader, type QueryTree } from './query.ts';
import { responseXml } from './xml.ts';
import type { Ec2Deps, Handler } from './ec2-common.ts';
import { SecurityGroupApi } from './security-group-api.ts';
import { VpcApi } from './vpc-api.ts';
import { RouteApi } from './route-api.ts';

export type { Ec2Deps } from './ec2-common.ts';
export { MAX_GROUPS_PER_VPC, MAX_RULES_PER_DIRECTION, ensureDefaultSecurityGroup, ensureDefaultSecurityGroups } from './security-group-api.ts';

export const EC2_API_VERSION = '2016-11-15';

export class Ec2Api {
  /** IAM service prefix of every action (`ec2:<Action>`). */
  readonly service = 'ec2';
  private readonly handlers: Record<string, Handler>;

  constructor(private readonly deps: Ec2Deps) {
    this.handlers = {
      ...new VpcApi(deps).handlers(),
      ...new SecurityGroupApi(deps).handlers(),
      ...(deps.routes ? new RouteApi({ ...deps, routes: deps.routes, now: deps.now ?? Date.now }).handlers() : {}),
    };
  }

  /** Decodes a form body into the action and its parameters (for authorization before `run`). */
  decode(body: string): { action: string; params: QueryTree } {
    const params = parseQueryBody(body);
    const q = new QueryReader(params);
    const action = q.str('Action');
    if (!action) throw new Ec2Error('MissingAction', 'The request must contain the parameter Action.');
    const version = q.str('Version');
    if (version !== undefined && version !== EC2_API_VERSION) {
      throw new Ec2Error('InvalidParameterValue', `Version '${version}' is not supported: Skiff serves EC2 API version ${EC2_API_VERSION}.`);
    }
    if (!Object.hasOwn(this.handlers, action)) {
      throw new Ec2Error('InvalidAction', `The action ${action} is not valid for this web service. Skiff serves: ${Object.keys(this.handlers).join(', ')}.`);
    }
    return { action, params };
  }

  /** Runs an action; resolves to the XML response document. */
  async run(action: string, params: QueryTree, requestId: string): Promise<string> {
    const result = await this.handlers[action]!(new QueryReader(params));
    return responseXml(action, requestId, result);
  }

  /** Any error as EC2's XML error document with its HTTP status. */
  errorResponse(err: unknown, requestId: string): { status: number; body: string } {
    let e = toEc2Error(err);
    if (!e) {
      this.deps.log?.(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      e = new Ec2Error('InternalError', 'Skiff hit an internal error; see the server log for details.', 500);
    }
    return { status: e.status, body: errorXml(e, requestId) };
  }

  newRequestId(): string {
    return randomUUID();
  }
}
