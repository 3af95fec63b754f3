/**
 * IAM's errors on the wire: `<ErrorResponse><Error><Type>Sender</Type><Code/>
 * <Message/></Error><RequestId/></ErrorResponse>` with the HTTP status IAM uses
 * for the code (404 NoSuchEntity, 409 EntityAlreadyExists/DeleteConflict, ...).
 * `toIamError` is the one place other errors (the store's, the API guard's)
 * become IAM's.
 */
import { ApiError, ErrorCode } from '../api/errors.ts';
import { RoleStoreError } from '../auth/roles.ts';
import { xmlEscape } from './xml.ts';

/** Every code Skiff's IAM subset answers with, and its HTTP status. */
export const IAM_ERRORS = {
  // authentication and authorization (from the API guard)
  MissingAuthenticationToken: 403,
  IncompleteSignature: 400,
  InvalidClientTokenId: 403,
  SignatureDoesNotMatch: 403,
  ExpiredToken: 400,
  AccessDenied: 403,
  // the request itself
  MissingAction: 400,
  InvalidAction: 400,
  ValidationError: 400,
  MalformedPolicyDocument: 400,
  // the entities
  NoSuchEntity: 404,
  EntityAlreadyExists: 409,
  DeleteConflict: 409,
  // Skiff's fault
  ServiceFailure: 500,
} as const;
export type IamErrorCode = keyof typeof IAM_ERRORS;

export class IamError extends Error {
  readonly status: number;
  constructor(
    readonly code: IamErrorCode,
    message: string,
  ) {
    super(message);
    this.name = code;
    this.status = IAM_ERRORS[code];
  }
}

const FROM_API: Partial<Record<string, IamErrorCode>> = {
  [ErrorCode.MissingAuthenticationTokenException]: 'MissingAuthenticationToken',
  [ErrorCode.IncompleteSignatureException]: 'IncompleteSignature',
  [ErrorCode.UnrecognizedClientException]: 'InvalidClientTokenId',
  [ErrorCode.InvalidSignatureException]: 'SignatureDoesNotMatch',
  [ErrorCode.ExpiredTokenException]: 'ExpiredToken',
  [ErrorCode.AccessDeniedException]: 'AccessDenied',
  [ErrorCode.SerializationException]: 'ValidationError',
  [ErrorCode.UnknownOperationException]: 'InvalidAction',
};

const FROM_STORE: Record<RoleStoreError['kind'], IamErrorCode> = {
  invalid: 'ValidationError',
  malformed: 'MalformedPolicyDocument',
  exists: 'EntityAlreadyExists',
  'not-found': 'NoSuchEntity',
  conflict: 'DeleteConflict',
};

/** Any error as an IamError; `undefined` for a programmer error (the caller logs it and answers ServiceFailure). */
export function toIamError(err: unknown): IamError | undefined {
  if (err instanceof IamError) return err;
  if (err instanceof RoleStoreError) return new IamError(FROM_STORE[err.kind], err.message);
  if (err instanceof ApiError) return new IamError(FROM_API[err.code] ?? (err.status >= 500 ? 'ServiceFailure' : 'ValidationError'), err.message);
  const status = (err as { statusCode?: number } | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return new IamError('ValidationError', (err as Error).message);
  return undefined;
}

export function errorXml(err: IamError, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>${err.status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
    `<Code>${xmlEscape(err.code)}</Code><Message>${xmlEscape(err.message)}</Message></Error><RequestId>${xmlEscape(requestId)}</RequestId></ErrorResponse>`
  );
}
