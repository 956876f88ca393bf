/**
 * intoto 0.0.2 (rekor `pkg/types/intoto/v0.0.2`), sigstore-js's "legacy" DSSE form. Every
 * `format: byte` field is base64 of what DSSE itself calls base64, so `payload` and `sig` arrive
 * double-encoded. Each signature carries its own publicKey (a PEM). The stored body keeps the
 * envelope's payloadType and signatures exactly as submitted (keys NOT re-canonicalized), the
 * client-supplied `hash` as-is, and a `payloadHash` the server recomputes; the payload itself is
 * never stored.
 */
import type { SignatureVerifier } from './verifier';
import { verifyEnvelope } from './envelope';
import type { VerificationMaterial } from '../x509';
import {
  HASH_SHAPE,
  S,
  checkShape,
  decodeByteField,
  decodeGoBase64,
  field,
  inTotoDigestKeys,
  invalidEntry,
  sha256Hex,
  specShapeError,
  type JsonObject,
  validateHash,
} from './common';
import type { KindResult, PrepareOptions } from './kind';

const SHAPE = S.object({
  content: S.object({
    envelope: S.object({
      payload: S.string,
      payloadType: S.string,
      signatures: S.array(S.object({ keyid: S.string, sig: S.string, publicKey: S.string })),
    }),
    hash: HASH_SHAPE,
    payloadHash: HASH_SHAPE,
  }),
});

/** Absent and empty fields both decode to no bytes; the insertability checks below refuse them. */
const byteField = (value: unknown, path: string): Buffer => decodeByteField(value, path) ?? Buffer.alloc(0);

interface SigItem {
  readonly keyid: string;
  readonly sig: Buffer;
  readonly publicKey: Buffer;
}

export function prepareIntoto(
  spec: JsonObject,
  verifier: SignatureVerifier,
  opts: PrepareOptions,
): KindResult {
  checkShape(spec, SHAPE, '', specShapeError);
  const content = field(spec, 'content') as JsonObject | undefined;
  const envelope = field(content, 'envelope') as JsonObject | undefined;
  const hash = field(content, 'hash') as JsonObject | undefined;
  const clientPayloadHash = field(content, 'payloadHash') as JsonObject | undefined;
  const rawSigs = field(envelope, 'signatures') as ReadonlyArray<JsonObject | null> | undefined;

  // Decode every format:byte field first (the outer base64 layer).
  const payloadOuter = byteField(field(envelope, 'payload'), 'content.envelope.payload');
  const sigs: SigItem[] = (rawSigs ?? []).map((s, i) => {
    const item = s ?? {};
    return {
      keyid: (field(item, 'keyid') as string | undefined) ?? '',
      sig: byteField(field(item, 'sig'), `content.envelope.signatures.${i}.sig`),
      publicKey: byteField(field(item, 'publicKey'), `content.envelope.signatures.${i}.publicKey`),
    };
  });

  // Schema validation.
  if (content === undefined) throw invalidEntry('content in body is required');
  if (envelope === undefined) throw invalidEntry('content.envelope in body is required');
  const payloadType = field(envelope, 'payloadType') as string | undefined;
  if (payloadType === undefined) throw invalidEntry('content.envelope.payloadType in body is required');
  if (rawSigs === undefined) throw invalidEntry('content.envelope.signatures in body is required');
  if (rawSigs.length === 0)
    throw invalidEntry('content.envelope.signatures in body should have at least 1 items');
  validateHash(hash, 'content.hash');
  validateHash(clientPayloadHash, 'content.payloadHash');

  // The outer layer decoded to the DSSE (inner) base64 text; latin1 maps those bytes 1:1.
  const payloadB64 = payloadOuter.toString('latin1');
  let payloadHashValue: string | undefined;
  let payload: Buffer | undefined;
  let keyMaterials: readonly VerificationMaterial[] = [];
  if (payloadB64 !== '') {
    const verified = verifyEnvelope(
      sigs.map((s) => s.publicKey),
      payloadType,
      payloadB64,
      sigs.map((s) => ({ sig: s.sig.toString('latin1') })),
      verifier,
      false,
    );
    keyMaterials = verified.keyMaterials;
    try {
      // Rekor hashes the StdEncoding decoding (not DSSE's URL-safe fallback).
      payload = decodeGoBase64(payloadB64);
    } catch (e) {
      throw invalidEntry(`could not decode envelope payload: ${(e as Error).message}`);
    }
    payloadHashValue = sha256Hex(payload);
  } else if (!opts.forSearch) {
    throw invalidEntry('entry not insertable into log: missing envelope content');
  }

  if (!opts.forSearch) {
    if (payloadType === '') throw invalidEntry('entry not insertable into log: missing payloadType content');
    for (const s of sigs) {
      if (s.sig.length === 0) throw invalidEntry('entry not insertable into log: missing signature content');
      if (s.publicKey.length === 0)
        throw invalidEntry('entry not insertable into log: missing publicKey content');
    }
  }

  // Canonicalize().
  if (hash === undefined) throw invalidEntry('missing envelope digest');
  if (payloadHashValue === undefined) {
    // Only a search without payload gets here: the client's payloadHash is all there is.
    if (clientPayloadHash === undefined) throw invalidEntry('missing payload digest');
    payloadHashValue = field(clientPayloadHash, 'value') as string;
  }
  const body = {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: {
          payloadType,
          signatures: sigs.map((s) => ({
            // Go's omitempty: an empty keyid (sigstore-js's default) is left out.
            ...(s.keyid !== '' ? { keyid: s.keyid } : {}),
            ...(s.publicKey.length > 0 ? { publicKey: s.publicKey.toString('base64') } : {}),
            ...(s.sig.length > 0 ? { sig: s.sig.toString('base64') } : {}),
          })),
        },
        hash: { algorithm: 'sha256', value: field(hash, 'value') as string },
        payloadHash: { algorithm: 'sha256', value: payloadHashValue },
      },
    },
  };
  const keys: string[] = [];
  if (payload !== undefined) {
    // Rekor hashes each key's canonical PEM here, not the bytes stored in the body.
    for (const m of keyMaterials) keys.push(`sha256:${sha256Hex(m.canonicalPem)}`, ...m.subjects);
    keys.push(`sha256:${payloadHashValue}`, ...inTotoDigestKeys(payloadType, payload));
  }
  return { body, indexKeys: keys };
}
