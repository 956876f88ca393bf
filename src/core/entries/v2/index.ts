/**
 * Rekor v2 entries: `POST /api/v2/log/entries` takes a protobuf-JSON `CreateEntryRequest`
 * (rekor-tiles `api/proto/rekor/v2/entry.proto`), a oneof of `hashedRekordRequestV002` and
 * `dsseRequestV002`, and the log stores the canonical `Entry` rekor-tiles builds from it:
 * `{"apiVersion":"0.0.2","kind":...,"spec":{"hashedRekordV002"|"dsseV002":{...}}}` serialized with
 * RFC 8785 JCS (protobuf JSON names; enums as names; bytes as standard base64).
 *
 * The result is an ordinary PreparedEntry, so it takes the same write path as a v1 entry (queue,
 * sequencer, BullMQ wire format) and the same search index. Only VellumError escapes:
 * INVALID_ENTRY for a malformed request, INVALID_SIGNATURE when a signature does not verify or
 * its algorithm is not allowed, INTERNAL for bugs.
 *
 * Size: the request is bounded by the HTTP body limit (MAX_ENTRY_BYTES, 4 MiB by default, the
 * same as rekor-tiles' default). A DSSE payload counts against it but is not stored: the body
 * keeps its SHA-256 only, so a v2 body stays a few KiB whatever the payload.
 */
import { VellumError, isVellumError } from '../../errors';
import { canonicalBytes } from '../../jcs';
import { leafHash } from '../../merkle/hash';
import { finishIndexKeys } from '../common';
import type { KindResult } from '../kind';
import type { PreparedEntry } from '../types';
import type { SignatureVerifier } from '../verifier';
import { prepareDsseV002 } from './dsse';
import { prepareHashedRekordV002 } from './hashedrekord';
import { type FieldName, get, invalidRequest, readMessage } from './request';

export { MAX_DSSE_SIGNATURES, MAX_DSSE_VERIFIERS } from './dsse';

const HASHED_REKORD: FieldName = ['hashedRekordRequestV002', 'hashed_rekord_request_v002'];
const DSSE: FieldName = ['dsseRequestV002', 'dsse_request_v002'];

export const V2_API_VERSION = '0.0.2';

function prepare(input: unknown, verifier: SignatureVerifier): PreparedEntry {
  const req = readMessage(input, 'CreateEntryRequest', [HASHED_REKORD, DSSE]);
  const hr = get(req, HASHED_REKORD, '');
  const dsse = get(req, DSSE, '');
  if (hr !== undefined && dsse !== undefined)
    throw invalidRequest('only one of hashedRekordRequestV002 and dsseRequestV002 may be set');
  let kind: string;
  let result: KindResult;
  if (hr !== undefined) {
    kind = 'hashedrekord';
    result = prepareHashedRekordV002(hr, 'hashedRekordRequestV002', verifier);
  } else if (dsse !== undefined) {
    kind = 'dsse';
    result = prepareDsseV002(dsse, 'dsseRequestV002', verifier);
  } else {
    throw invalidRequest('one of hashedRekordRequestV002 and dsseRequestV002 is required');
  }
  // Every string in the body is base64 or a fixed name, so JCS cannot meet a lone surrogate here.
  const body = canonicalBytes(result.body);
  return {
    kind,
    apiVersion: V2_API_VERSION,
    body,
    leafHash: leafHash(body),
    indexKeys: finishIndexKeys(result.indexKeys),
  };
}

/** Validates, verifies and canonicalizes one Rekor v2 request (already JSON-parsed). */
export function prepareV2Entry(input: unknown, verifier: SignatureVerifier): PreparedEntry {
  try {
    return prepare(input, verifier);
  } catch (e) {
    if (isVellumError(e)) throw e;
    throw new VellumError('INTERNAL', 'error generating canonicalized v2 entry', {
      cause: e instanceof Error ? e.message : String(e),
    });
  }
}
