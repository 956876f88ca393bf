import { prepareEntry } from '../../core/entries';
import { VellumError } from '../../core/errors';
import { createFastVerifier } from '../../crypto/fast-verifier';
import type { PreparedEntry } from '../log/log.types';

type Verifier = ReturnType<typeof createFastVerifier>;

/**
 * Parse + validate + verify + canonicalize one proposed entry from its raw JSON bytes. Shared by
 * the worker threads and the in-thread fallback (VERIFY_WORKERS=0), so both behave identically.
 */
export function prepareFromJson(json: Uint8Array, verifier: Verifier, forSearch = false): PreparedEntry {
  let input: unknown;
  try {
    input = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch (e) {
    throw new VellumError('INVALID_ARGUMENT', `malformed JSON in request body: ${(e as Error).message}`);
  }
  return prepareEntry(input, verifier, { forSearch });
}
