/**
 * dsse 0.0.1 (rekor `pkg/types/dsse/v0.0.1`). Clients send `proposedContent` = the DSSE envelope
 * as a JSON *string* plus base64 PEM verifiers; the log stores only hashes and the verified
 * signatures: `envelopeHash` (SHA-256 of the envelope string exactly as submitted), `payloadHash`
 * (SHA-256 of the decoded payload) and `signatures` sorted by signature string, each with the
 * canonical PEM of the key that verified it. Envelope and payload are never stored.
 */
import type { SignatureVerifier } from './verifier';
import { verifyEnvelope, type EnvelopeSignature } from './envelope';
import {
  HASH_SHAPE,
  S,
  checkShape,
  decodeGoBase64,
  field,
  inTotoDigestKeys,
  invalidEntry,
  isObject,
  jsonTypeName,
  sha256Hex,
  specShapeError,
  type JsonObject,
  validateHash,
} from './common';
import type { KindResult, PrepareOptions } from './kind';

const SHAPE = S.object({
  proposedContent: S.object({ envelope: S.string, verifiers: S.array(S.string) }),
  signatures: S.array(S.object({ signature: S.string, verifier: S.string })),
  envelopeHash: HASH_SHAPE,
  payloadHash: HASH_SHAPE,
});

const SIGNATURE_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/;

interface ParsedEnvelope {
  readonly payload: string;
  readonly payloadType: string;
  readonly signatures: EnvelopeSignature[];
}

/**
 * Go `json.Unmarshal` into go-securesystemslib's Envelope: unknown members are ignored (the DSSE
 * envelope is the signer's document; only its hash is logged), null leaves a field empty, and a
 * member of the wrong type is an error.
 */
function parseEnvelope(text: string): ParsedEnvelope {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw invalidEntry(`invalid DSSE envelope JSON: ${(e as Error).message}`);
  }
  const typeError = (what: string, val: unknown, goType: string): Error =>
    invalidEntry(`json: cannot unmarshal ${jsonTypeName(val)} into Go ${what} of type ${goType}`);
  if (!isObject(v)) throw typeError('value', v, 'dsse.Envelope');
  const str = (o: JsonObject, k: string, owner: string): string => {
    const x = field(o, k);
    if (x === undefined) return '';
    if (typeof x !== 'string') throw typeError(`struct field ${owner}.${k}`, x, 'string');
    return x;
  };
  const rawSigs = field(v, 'signatures');
  const signatures: EnvelopeSignature[] = [];
  if (rawSigs !== undefined) {
    if (!Array.isArray(rawSigs))
      throw typeError('struct field Envelope.signatures', rawSigs, '[]dsse.Signature');
    for (const s of rawSigs) {
      if (s === null) {
        signatures.push({ sig: '' });
        continue;
      }
      if (!isObject(s)) throw typeError('struct field Envelope.signatures', s, 'dsse.Signature');
      str(s, 'keyid', 'Signature');
      signatures.push({ sig: str(s, 'sig', 'Signature') });
    }
  }
  return {
    payload: str(v, 'payload', 'Envelope'),
    payloadType: str(v, 'payloadType', 'Envelope'),
    signatures,
  };
}

function canonicalBody(
  envelopeHash: string,
  payloadHash: string,
  signatures: Array<{ signature: string; verifier: string }>,
): object {
  // Go sort.Strings: byte order. Signatures are base64 (ASCII), but compare bytes regardless.
  signatures.sort((a, b) =>
    Buffer.compare(Buffer.from(a.signature, 'utf8'), Buffer.from(b.signature, 'utf8')),
  );
  return {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: envelopeHash },
      payloadHash: { algorithm: 'sha256', value: payloadHash },
      signatures,
    },
  };
}

export function prepareDsse(spec: JsonObject, verifier: SignatureVerifier, opts: PrepareOptions): KindResult {
  checkShape(spec, SHAPE, '', specShapeError);
  const proposed = field(spec, 'proposedContent') as JsonObject | undefined;
  // An empty list counts as absent, as in Go (where len() == 0 is all that is ever checked).
  const rawStored = field(spec, 'signatures') as ReadonlyArray<JsonObject | null> | undefined;
  const storedSigs = rawStored !== undefined && rawStored.length > 0 ? rawStored : undefined;
  const envelopeHash = field(spec, 'envelopeHash') as JsonObject | undefined;
  const payloadHash = field(spec, 'payloadHash') as JsonObject | undefined;

  // DecodeEntry: base64 first; empty and null verifiers are skipped like absent ones.
  const rawVerifiers = field(proposed, 'verifiers') as ReadonlyArray<string | null> | undefined;
  const verifiers: Buffer[] = [];
  for (const v of rawVerifiers ?? []) {
    if (typeof v !== 'string' || v === '') continue;
    try {
      verifiers.push(decodeGoBase64(v));
    } catch (e) {
      throw invalidEntry(`failed parsing base64 data for verifier: ${(e as Error).message}`);
    }
  }
  const stored: Array<{ signature: string | undefined; verifier: Buffer | undefined }> = [];
  for (const s of storedSigs ?? []) {
    if (s === null) continue;
    const v = field(s, 'verifier');
    let verifierBytes: Buffer | undefined;
    if (typeof v === 'string' && v !== '') {
      try {
        verifierBytes = decodeGoBase64(v);
      } catch (e) {
        throw invalidEntry(`failed parsing base64 data for signature verifier: ${(e as Error).message}`);
      }
    }
    stored.push({ signature: field(s, 'signature') as string | undefined, verifier: verifierBytes });
  }

  // Schema validation.
  validateHash(envelopeHash, 'envelopeHash');
  validateHash(payloadHash, 'payloadHash');
  if (proposed !== undefined) {
    if (field(proposed, 'envelope') === undefined)
      throw invalidEntry('proposedContent.envelope in body is required');
    if (rawVerifiers === undefined) throw invalidEntry('proposedContent.verifiers in body is required');
    if (verifiers.length === 0)
      throw invalidEntry('proposedContent.verifiers in body should have at least 1 items');
  }
  if (storedSigs !== undefined) {
    if (stored.length === 0) throw invalidEntry('signatures in body should have at least 1 items');
    stored.forEach((s, i) => {
      if (s.signature === undefined) throw invalidEntry(`signatures.${i}.signature in body is required`);
      if (!SIGNATURE_PATTERN.test(s.signature)) {
        throw invalidEntry(`signatures.${i}.signature in body should match '${SIGNATURE_PATTERN.source}'`);
      }
      if (s.verifier === undefined) throw invalidEntry(`signatures.${i}.verifier in body is required`);
    });
  }

  if (proposed === undefined) {
    if (envelopeHash === undefined || payloadHash === undefined || stored.length === 0) {
      throw invalidEntry(
        'either proposedContent or envelopeHash, payloadHash, and signatures must be present',
      );
    }
    if (!opts.forSearch) throw invalidEntry('entry not insertable into log: missing proposed content');
    // Stored form, for a search only: rebuild the body from the given fields, as Canonicalize does.
    const body = canonicalBody(
      field(envelopeHash, 'value') as string,
      field(payloadHash, 'value') as string,
      stored.map((s) => ({ signature: s.signature!, verifier: s.verifier!.toString('base64') })),
    );
    return { body, indexKeys: [] };
  }
  if (envelopeHash !== undefined || payloadHash !== undefined || stored.length !== 0) {
    throw invalidEntry(
      'either proposedContent or envelopeHash, payloadHash, and signatures must be present but not both',
    );
  }

  const envelopeText = field(proposed, 'envelope') as string;
  const env = parseEnvelope(envelopeText);
  if (env.signatures.length === 0) throw invalidEntry('DSSE envelope must contain 1 or more signatures');

  const verified = verifyEnvelope(verifiers, env.payloadType, env.payload, env.signatures, verifier, true);

  const signatures: Array<{ signature: string; verifier: string }> = [];
  for (const [sig, material] of verified.bySignature) {
    signatures.push({
      signature: sig,
      verifier: Buffer.from(material.canonicalPem, 'latin1').toString('base64'),
    });
  }
  const envelopeDigest = sha256Hex(Buffer.from(envelopeText, 'utf8'));
  const payloadDigest = sha256Hex(verified.payload);
  const body = canonicalBody(envelopeDigest, payloadDigest, signatures);
  // Key hashes follow the sorted signature order, as Rekor's IndexKeys walks the stored list.
  const keyKeys = signatures.flatMap((s) => {
    const m = verified.bySignature.get(s.signature)!;
    return [`sha256:${sha256Hex(m.canonicalPem)}`, ...m.subjects];
  });
  return {
    body,
    indexKeys: [
      ...keyKeys,
      `sha256:${payloadDigest}`,
      `sha256:${envelopeDigest}`,
      ...inTotoDigestKeys(env.payloadType, verified.payload),
    ],
  };
}
