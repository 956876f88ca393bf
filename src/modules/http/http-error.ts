import { HttpException } from '@nestjs/common';
import { ErrorCode, isVellumError, VellumError } from '../../core/errors';

/**
 * The single table from failures to Rekor-compatible HTTP answers. Everything that can go wrong
 * during a request ends up here: VellumErrors from the core and services, Nest's HttpExceptions,
 * and Fastify's own errors (body too large, unsupported media type) that fire before any handler.
 */

/**
 * What the wire sees: status, the `{code, message}` body (null for the bodiless 404s; invalid
 * rules add `errors` and `warnings`), extra headers.
 */
export interface HttpErrorResponse {
  readonly status: number;
  readonly body: {
    readonly code: number;
    readonly message: string;
    readonly [extra: string]: unknown;
  } | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** True when the failure is ours, not the client's: worth a log line. */
  readonly internal?: boolean;
}

/** Rekor answers every 5xx with one of a few fixed texts; internal details never reach clients. */
export const GENERIC_500 = 'unexpected result from transparency log';

const STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_ENTRY: 400,
  SCHEMA_VIOLATION: 422,
  UNSUPPORTED_KIND: 422,
  UNSUPPORTED_VERSION: 400,
  INVALID_SIGNATURE: 400,
  DUPLICATE_ENTRY: 409,
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID_RULE: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TOO_LARGE: 413,
  PUSHBACK: 503,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  INVALID_DER: 400,
  INVALID_CERTIFICATE: 400,
  // The rest describe the log's own data failing its own checks: never the client's fault.
  INVALID_PROOF: 500,
  INVALID_NOTE: 500,
  INVALID_KEY: 500,
  INVALID_TILE: 500,
  INVALID_SET: 500,
  INCONSISTENT_LOG: 500,
  INTERNAL: 500,
};

/**
 * A framework-level (go-openapi) validation failure: HTTP 422 with a 6xx body code
 * (601 type/format, 602 required, 603/604 length, 605 pattern, 606 enum, 608/609 max/min,
 * 611/612 item counts).
 */
export function schemaError(apiCode: number, message: string): VellumError {
  return new VellumError('SCHEMA_VIOLATION', message, { apiCode });
}

export function entryLocation(entryId: string): string {
  return `/api/v1/log/entries/${entryId}`;
}

export function toHttpError(err: unknown, bodyLimit: number, contentType?: string): HttpErrorResponse {
  if (isVellumError(err)) return fromVellumError(err);
  // Nest hands Fastify's own errors (raised while reading the body, before any handler) to the
  // filters re-wrapped as HttpException(message, statusCode), so both spellings are handled.
  let status: number | undefined;
  let message: string | undefined;
  if (err instanceof HttpException) {
    status = err.getStatus();
    const res = err.getResponse();
    message = typeof res === 'string' ? res : String((res as { message?: unknown }).message ?? err.message);
  } else {
    const fst = err as { code?: unknown; statusCode?: unknown; message?: unknown } | null;
    if (
      fst &&
      typeof fst.code === 'string' &&
      fst.code.startsWith('FST_') &&
      typeof fst.statusCode === 'number'
    ) {
      status = fst.statusCode;
      message = String(fst.message ?? '');
    } else if (fst && fst.code === 'ECONNRESET') {
      // A client that went away mid-request (Rekor's 499) is not a server fault.
      return { status: 499, body: { code: 499, message: 'client disconnected during request' } };
    }
  }
  if (status === undefined || status >= 500 || status < 400) {
    return { status: 500, body: { code: 500, message: GENERIC_500 }, internal: true };
  }
  switch (status) {
    case 413:
      return { status, body: { code: 413, message: `Request Entity Too Large. Limit set to ${bodyLimit}` } };
    case 415: {
      const type = (contentType ?? '').split(';', 1)[0].trim() || 'none';
      return {
        status,
        body: {
          code: 415,
          message: `unsupported media type ${JSON.stringify(type)}, only [application/json] are allowed`,
        },
      };
    }
    case 404:
      return { status, body: { code: 404, message: 'Not Found' } };
    default:
      return { status, body: { code: status, message: message || 'Bad Request' } };
  }
}

/** Seconds the producer of the error suggests (queue drain estimate, outage backoff); 1 by default. */
function retryAfter(err: VellumError): string {
  const s = err.details?.retryAfterSeconds;
  return typeof s === 'number' && Number.isFinite(s) && s >= 1 ? String(Math.ceil(s)) : '1';
}

function fromVellumError(err: VellumError): HttpErrorResponse {
  const status = STATUS[err.code];
  switch (err.code) {
    case 'SCHEMA_VIOLATION': {
      const apiCode = err.details?.apiCode;
      return { status, body: { code: typeof apiCode === 'number' ? apiCode : 422, message: err.message } };
    }
    case 'DUPLICATE_ENTRY': {
      const entryId = String(err.details?.entryId ?? '');
      return {
        status,
        body: {
          code: 409,
          message: `an equivalent entry already exists in the transparency log with UUID ${entryId}`,
        },
        headers: { location: entryLocation(entryId) },
      };
    }
    case 'PUSHBACK':
      return {
        status,
        body: { code: 503, message: err.message },
        headers: { 'retry-after': retryAfter(err) },
      };
    case 'RATE_LIMITED':
      return {
        status,
        body: { code: 429, message: err.message },
        headers: { 'retry-after': retryAfter(err) },
      };
    case 'UNAVAILABLE':
      return {
        status,
        body: { code: 503, message: err.message },
        headers: { 'retry-after': retryAfter(err) },
        internal: true,
      };
    case 'NOT_FOUND':
      return { status, body: { code: 404, message: err.message } };
    case 'UNAUTHENTICATED': {
      const challenge = err.details?.challenge;
      return {
        status,
        body: { code: 401, message: err.message },
        headers: typeof challenge === 'string' ? { 'www-authenticate': challenge } : undefined,
      };
    }
    case 'INVALID_RULE':
    case 'INVALID_ARGUMENT':
      // The problems of a rule, each with its path, so an operator can fix all of them at once.
      return {
        status,
        body: {
          code: status,
          message: err.message,
          ...(err.details?.errors !== undefined ? { errors: err.details.errors } : {}),
          ...(err.details?.warnings !== undefined ? { warnings: err.details.warnings } : {}),
        },
      };
    default:
      if (status >= 500) return { status, body: { code: status, message: GENERIC_500 }, internal: true };
      return { status, body: { code: status, message: err.message } };
  }
}
