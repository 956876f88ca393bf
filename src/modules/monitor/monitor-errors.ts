import { VellumError } from '../../core/errors';

/** The monitor admin API's usual refusals, as VellumErrors (mapped to HTTP once, in http/). */
export const notFound = (what: string): VellumError => new VellumError('NOT_FOUND', `${what} not found`);
export const conflict = (message: string): VellumError => new VellumError('CONFLICT', message);
/** A bad request; with `errors` / `warnings` (an invalid rule's problems by path) it is INVALID_RULE. */
export const badRequest = (message: string, extra: Record<string, unknown> = {}): VellumError =>
  new VellumError(extra.errors !== undefined ? 'INVALID_RULE' : 'INVALID_ARGUMENT', message, extra);
