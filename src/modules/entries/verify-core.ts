import { prepareEntry } from '../../core/entries';
import { prepareV2Entry } from '../../core/entries/v2';
import { VellumError } from '../../core/errors';
import { createFastVerifier } from '../../crypto/fast-verifier';
import type { PreparedEntry } from '../log/log.types';

type Verifier = ReturnType<typeof createFastVerifier>;

/**
 * Parse + validate + verify + canonicalize one proposed entry (v1) or CreateEntryRequest (v2) from
 * its raw JSON bytes. Shared by
 * the worker threads and the in-thread fallback (VERIFY_WORKERS=0), so both behave identically.
 */
export function prepareFromJson(
  json: Uint8Array,
  verifier: Verifier,
  forSearch = false,
  v2 = false,
): PreparedEntry {
  let input: unknown;
  try {
    input = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch (e) {
    throw new VellumError('INVALID_ARGUMENT', `malformed JSON in request body: ${(e as Error).message}`);
  }
  return v2 ? prepareV2Entry(input, verifier) : prepareEntry(input, verifier, { forSearch });
}
