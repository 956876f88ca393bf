import { isVellumError } from '../../core/errors';
import type { HttpErrorResponse } from './http-error';

/** Routes under this prefix answer errors the way Rekor v2 (rekor-tiles' grpc-gateway) does. */
export const REKOR_V2_PREFIX = '/api/v2/';

/**
 * gRPC status codes for the HTTP statuses Vellum answers with, as grpc-gateway pairs them
 * (`runtime.HTTPStatusFromCode`): InvalidArgument 400, NotFound 404, AlreadyExists 409,
 * Unimplemented 405 (rekor-tiles' frozen log), Unavailable 503, Canceled 499, ResourceExhausted
 * for an oversized body or a rate-limited client (429), Internal for the rest.
 */
const GRPC_CODE: Readonly<Record<number, number>> = {
  400: 3,
  404: 5,
  405: 12,
  409: 6,
  413: 8,
  415: 3,
  422: 3,
  429: 8,
  499: 1,
  503: 14,
};

/**
 * Re-shapes the one HTTP error answer for a Rekor v2 route: the status and message stay, the body
 * becomes grpc-gateway's `{code, message, details}` with the gRPC code (sigstore-js reads only
 * `message`), and a duplicate also carries `x-log-index`, the index of the entry already logged.
 */
export function toRekorV2Error(res: HttpErrorResponse, err: unknown): HttpErrorResponse {
  const headers: Record<string, string> = { ...res.headers };
  if (isVellumError(err, 'DUPLICATE_ENTRY')) {
    const index = err.details?.index;
    if (typeof index === 'number' && Number.isSafeInteger(index) && index >= 0)
      headers['x-log-index'] = String(index);
  }
  const message = res.body?.message ?? (res.status === 404 ? 'Not Found' : 'error');
  return {
    ...res,
    body: { code: GRPC_CODE[res.status] ?? 13, message, details: [] },
    headers,
  };
}
