/**
 * The one catalog of errors a Skiff API caller can see.
 *
 * Every error a user can hit is an `ApiError` whose `code` is the `__type` AWS
 * returns for the same mistake, and whose message says what to fix. Anything else
 * thrown inside a handler is a programmer error and reaches the wire as a
 * `ServerException` (HTTP 500) with a generic message; its detail is logged only.
 */

/** `__type` values Skiff returns, as ECS spells them. */
export const ErrorCode = {
  ClientException: 'ClientException',
  InvalidParameterException: 'InvalidParameterException',
  ClusterNotFoundException: 'ClusterNotFoundException',
  ClusterContainsTasksException: 'ClusterContainsTasksException',
  ClusterContainsServicesException: 'ClusterContainsServicesException',
  ServiceNotFoundException: 'ServiceNotFoundException',
  ServiceNotActiveException: 'ServiceNotActiveException',
  ResourceNotFoundException: 'ResourceNotFoundException',
  /** Secrets Manager: a secret with that name exists. */
  ResourceExistsException: 'ResourceExistsException',
  /** Secrets Manager: the request is not valid in the secret's state (e.g. scheduled for deletion). */
  InvalidRequestException: 'InvalidRequestException',
  ResourceInUseException: 'ResourceInUseException',
  /** CloudWatch Logs: a log group or stream with that name exists. */
  ResourceAlreadyExistsException: 'ResourceAlreadyExistsException',
  ConflictException: 'ConflictException',
  LimitExceededException: 'LimitExceededException',
  UnsupportedFeatureException: 'UnsupportedFeatureException',
  AccessDeniedException: 'AccessDeniedException',
  /** Request not signed (HTTP 403). */
  MissingAuthenticationTokenException: 'MissingAuthenticationTokenException',
  /** Authorization header malformed (HTTP 400). */
  IncompleteSignatureException: 'IncompleteSignatureException',
  /** Unknown or revoked access key (HTTP 403). */
  UnrecognizedClientException: 'UnrecognizedClientException',
  /** Wrong signature, or a request time more than 5 minutes off (HTTP 403). */
  InvalidSignatureException: 'InvalidSignatureException',
  /** Temporary credentials (a task role's) past their expiry (HTTP 400). */
  ExpiredTokenException: 'ExpiredTokenException',
  ServerException: 'ServerException',
  /** Unknown X-Amz-Target operation (AWS answers this for an unknown action). */
  UnknownOperationException: 'UnknownOperationException',
  /** Body is not valid JSON or not an object. */
  SerializationException: 'SerializationException',
  /** Application Auto Scaling: a request field is missing or not valid. */
  ValidationException: 'ValidationException',
  /** Application Auto Scaling: no scalable target, policy or scheduled action by that identity. */
  ObjectNotFoundException: 'ObjectNotFoundException',
  /** Application Auto Scaling: a NextToken that was not issued for this query. */
  InvalidNextTokenException: 'InvalidNextTokenException',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class ApiError extends Error {
  readonly code: ErrorCode;
  /** HTTP status on the wire: 400 for caller mistakes, 500 for ServerException. */
  readonly status: number;
  /** Whether the same call may succeed if retried unchanged. */
  readonly retryable: boolean;

  /** Members of the error shape beyond `message` (e.g. ConflictException's `resourceIds`), sent with it. */
  readonly fields: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: { status?: number; retryable?: boolean; fields?: Record<string, unknown> } = {}) {
    super(message);
    this.fields = opts.fields;
    this.name = code;
    this.code = code;
    this.status = opts.status ?? (code === ErrorCode.ServerException ? 500 : 400);
    this.retryable = opts.retryable ?? code === ErrorCode.ServerException;
  }
}

/** Shorthands for the common cases; each message must say what to fix. */
export const clientError = (message: string) => new ApiError(ErrorCode.ClientException, message);
export const invalidParameter = (message: string) => new ApiError(ErrorCode.InvalidParameterException, message);
export const clusterNotFound = (cluster: string) =>
  new ApiError(ErrorCode.ClusterNotFoundException, `Cluster not found: '${cluster}'. Create it with CreateCluster or check the name.`);

/**
 * The disk holding the data dir is full: Skiff cannot make the write the call
 * needs. A ServerException (HTTP 500, retryable: AWS SDKs retry it a few times
 * with back-off) whose message says what to free.
 */
export const storeFullError = (message: string) => new ApiError(ErrorCode.ServerException, message, { status: 500, retryable: true });

/** The wire body for an error: `{"__type": ..., "message": ...}` and the shape's other members, if any. */
export function errorBody(err: ApiError): { __type: string; message: string; [member: string]: unknown } {
  return { ...err.fields, __type: err.code, message: err.message };
}
