/**
 * EFS's errors as its REST-JSON protocol sends them: the HTTP status of the
 * error shape, `x-amzn-ErrorType: <code>` and a body `{"ErrorCode", "Message"}`
 * plus the shape's extra members (FileSystemAlreadyExists' FileSystemId ...).
 * Statuses are the ones in EFS's API model (@aws-sdk/client-efs).
 */
export const EFS_ERRORS = {
  BadRequest: 400,
  ValidationException: 400,
  FileSystemAlreadyExists: 409,
  FileSystemNotFound: 404,
  FileSystemInUse: 409,
  FileSystemLimitExceeded: 403,
  AccessPointAlreadyExists: 409,
  AccessPointNotFound: 404,
  AccessPointLimitExceeded: 403,
  IncorrectFileSystemLifeCycleState: 409,
  MountTargetNotFound: 404,
  MountTargetConflict: 409,
  SubnetNotFound: 400,
  SecurityGroupNotFound: 400,
  IpAddressInUse: 409,
  UnsupportedAvailabilityZone: 400,
  InternalServerError: 500,
} as const;
export type EfsErrorCode = keyof typeof EFS_ERRORS;

export class EfsError extends Error {
  readonly status: number;
  constructor(
    readonly code: EfsErrorCode,
    message: string,
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = code;
    this.status = EFS_ERRORS[code];
  }
}

export const badRequest = (message: string) => new EfsError('BadRequest', message);
export const fileSystemNotFound = (id: string) => new EfsError('FileSystemNotFound', `File system '${id}' does not exist. Check the id (DescribeFileSystems lists them).`);
export const accessPointNotFound = (id: string) => new EfsError('AccessPointNotFound', `Access point '${id}' does not exist. Check the id (DescribeAccessPoints lists them).`);

/** The wire form of an error: status, the error type header and the body. */
export function efsErrorBody(e: EfsError): { status: number; code: string; body: Record<string, unknown> } {
  return { status: e.status, code: e.code, body: { ErrorCode: e.code, Message: e.message, ...e.fields } };
}
