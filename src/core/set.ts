/**
 * Rekor v1 signed entry timestamps (SETs): the log's signature over the JCS object
 * {body, integratedTime, logID, logIndex}. `logIndex` is the VIRTUAL index across shards and
 * `logID` the hex logID of the entry's shard; a SET over the shard-local index does not verify.
 */
import { VellumError } from './errors';
import { isBase64Strict, isLowerHex } from './encoding';
import type { LogPublicKey, LogSigningKey } from './keys';

export interface SetFields {
  /** the entry body exactly as served: standard base64 of the canonical bytes */
  readonly body: string;
  readonly integratedTime: number;
  /** 64 lowercase hex */
  readonly logID: string;
  readonly logIndex: number;
}

function checkFields(f: SetFields): void {
  const bad = (why: string): never => {
    throw new VellumError('INVALID_ARGUMENT', `SET payload: ${why}`);
  };
  if (typeof f.body !== 'string' || f.body.length === 0 || !isBase64Strict(f.body))
    bad('body is not standard base64');
  if (!Number.isSafeInteger(f.integratedTime) || f.integratedTime < 0)
    bad('integratedTime is not a non-negative integer');
  if (!isLowerHex(f.logID, 32)) bad('logID is not 64 lowercase hex digits');
  if (!Number.isSafeInteger(f.logIndex) || f.logIndex < 0) bad('logIndex is not a non-negative integer');
}

/** Exactly {"body":"…","integratedTime":N,"logID":"…","logIndex":N} (JCS key order). */
export function setPayload(fields: SetFields): Buffer {
  checkFields(fields);
  // Rebuilt from the four fields so that extra properties on `fields` can never leak into the
  // payload. Once checked, no field needs JSON escaping (base64, lowercase hex, safe integers,
  // whose JCS form is their decimal digits), so the JCS bytes are spelled out directly: the
  // sequencer builds one per entry. test/core/set.test.ts checks this against canonicalBytes.
  return Buffer.from(
    `{"body":"${fields.body}","integratedTime":${fields.integratedTime},"logID":"${fields.logID}","logIndex":${fields.logIndex}}`,
    'latin1',
  );
}

/** OpenSSL signature (ECDSA DER over SHA-256, or Ed25519); randomised for ECDSA, one per entry. */
export function signSet(key: LogSigningKey, fields: SetFields): Buffer {
  return key.sign(setPayload(fields));
}

/** Throws INVALID_SET unless `signature` is `key`'s signature over setPayload(fields). */
export function verifySet(key: LogPublicKey, fields: SetFields, signature: Uint8Array): void {
  let payload: Buffer;
  try {
    payload = setPayload(fields);
  } catch (e) {
    throw new VellumError('INVALID_SET', `cannot build the SET payload: ${(e as Error).message}`);
  }
  if (!key.verify(payload, signature)) {
    throw new VellumError('INVALID_SET', 'signed entry timestamp does not verify');
  }
}
