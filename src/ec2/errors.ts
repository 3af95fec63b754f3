/**
 * EC2's errors: a code from the EC2 error catalog (`InvalidGroup.NotFound`,
 * `DependencyViolation`, ...) and a message that says what to fix, sent as
 * `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
 */
import { ApiError, ErrorCode } from '../api/errors.ts';
import { xmlEscape } from './xml.ts';

/** Every code Skiff's EC2 subset answers with, as EC2 spells it. */
export const EC2_ERROR_CODES = [
  // authentication and authorization (from the API guard)
  'MissingAuthenticationToken', 'IncompleteSignature', 'AuthFailure', 'RequestExpired', 'UnauthorizedOperation',
  // the request itself
  'MissingAction', 'InvalidAction', 'MissingParameter', 'InvalidParameterValue', 'DryRunOperation',
  // ids that are malformed or name nothing
  'InvalidVpcID.Malformed', 'InvalidSubnetID.Malformed', 'InvalidGroupId.Malformed', 'InvalidSecurityGroupRuleId.Malformed',
  'InvalidVpcID.NotFound', 'InvalidSubnetID.NotFound', 'InvalidGroup.NotFound', 'InvalidSecurityGroupRuleId.NotFound', 'InvalidPermission.NotFound',
  // conflicts, dependencies and limits
  'NatGatewayNotFound', 'InvalidRouteTableID.NotFound', 'InvalidAssociationID.NotFound', 'InvalidRoute.NotFound',
  'RouteAlreadyExists', 'Resource.AlreadyAssociated',
  'InvalidVpc.Range', 'InvalidSubnet.Range', 'InvalidSubnet.Conflict', 'InvalidGroup.Duplicate', 'InvalidPermission.Duplicate',
  'CannotDelete', 'DependencyViolation', 'SecurityGroupLimitExceeded', 'RulesPerSecurityGroupLimitExceeded',
  // Skiff's fault
  'InternalError',
] as const;
export type Ec2ErrorCode = (typeof EC2_ERROR_CODES)[number];

export class Ec2Error extends Error {
  constructor(
    readonly code: Ec2ErrorCode,
    message: string,
    /** HTTP status: 400 for caller mistakes, 401/403 for authentication, 500 for InternalError. */
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}

/** The guard's and front door's errors (AWS JSON codes) in EC2's words. */
const FROM_API: Partial<Record<string, { code: Ec2ErrorCode; status: number }>> = {
  [ErrorCode.MissingAuthenticationTokenException]: { code: 'MissingAuthenticationToken', status: 401 },
  [ErrorCode.IncompleteSignatureException]: { code: 'IncompleteSignature', status: 400 },
  [ErrorCode.UnrecognizedClientException]: { code: 'AuthFailure', status: 401 },
  [ErrorCode.InvalidSignatureException]: { code: 'AuthFailure', status: 401 },
  [ErrorCode.AccessDeniedException]: { code: 'UnauthorizedOperation', status: 403 },
  [ErrorCode.SerializationException]: { code: 'InvalidParameterValue', status: 400 },
  [ErrorCode.UnknownOperationException]: { code: 'InvalidAction', status: 400 },
  [ErrorCode.ServerException]: { code: 'InternalError', status: 500 },
};

/** Any error as an Ec2Error; `undefined` for a programmer error (the caller logs it and answers InternalError). */
export function toEc2Error(err: unknown): Ec2Error | undefined {
  if (err instanceof Ec2Error) return err;
  if (err instanceof ApiError) {
    const m = FROM_API[err.code] ?? { code: 'InvalidParameterValue' as const, status: err.status };
    const code = err.code === ErrorCode.InvalidSignatureException && /expired/i.test(err.message) ? 'RequestExpired' : m.code;
    return new Ec2Error(code, err.message, m.status);
  }
  const status = (err as { statusCode?: number } | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return new Ec2Error('InvalidParameterValue', (err as Error).message);
  return undefined;
}

export function errorXml(err: Ec2Error, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xmlEscape(err.code)}</Code>` +
    `<Message>${xmlEscape(err.message)}</Message></Error></Errors><RequestID>${xmlEscape(requestId)}</RequestID></Response>`
  );
}
