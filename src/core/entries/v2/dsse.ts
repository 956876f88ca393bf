/**
 * dsse 0.0.2 (rekor-tiles `pkg/types/dsse` before it was dropped in June 2026): a DSSE envelope
 * plus the keys that signed it. Every envelope signature must verify over the DSSE PAE bytes
 * under one of the verifiers, and every verifier must verify at least one signature (rekor-tiles
 * errors on a verifier that accepts nothing). Only hashes are stored: the body is
 * `{payloadHash{algorithm SHA2_256, digest}, signatures[{content, verifier}]}`, signatures sorted
 * by their raw bytes, so neither the payload (SBOMs can be megabytes) nor the envelope is kept.
 *
 * Message algorithm per key: ECDSA hashes the PAE with its curve's hash (P-256 SHA-256, P-384
 * SHA-384, P-521 SHA-512), RSA PKCS#1 v1.5 with SHA-256, Ed25519 is pure Ed25519 over the PAE
 * (what rekor-tiles' default verifier for an Ed25519 key does).
 */
import { createHash } from 'node:crypto';
import { inTotoDigestKeys, pae, sha256Hex } from '../common';
import type { KindResult } from '../kind';
import type { SignatureVerifier } from '../verifier';
import {
  badSignature,
  get,
  invalidRequest,
  join,
  readArray,
  readBytes,
  readMessage,
  readString,
  requireBytes,
  type FieldName,
} from './request';
import { readVerifier, verifierJson, type V2Verifier } from './verifier-message';

/** rekor-tiles' limits: they bound the keys x signatures work one request can cause. */
export const MAX_DSSE_VERIFIERS = 10;
export const MAX_DSSE_SIGNATURES = 10;

const ENVELOPE: FieldName = ['envelope'];
const VERIFIERS: FieldName = ['verifiers'];
const PAYLOAD: FieldName = ['payload'];
const PAYLOAD_TYPE: FieldName = ['payloadType', 'payload_type'];
const SIGNATURES: FieldName = ['signatures'];
const SIG: FieldName = ['sig'];
const KEYID: FieldName = ['keyid'];

function verifies(sv: SignatureVerifier, v: V2Verifier, message: Buffer, sig: Buffer): boolean {
  const key = v.material.key;
  if (key.algorithm === 'ed25519') return sv.verifyMessage(key, message, sig);
  const hash = v.algorithm.hash;
  return sv.verifyDigest(key, hash, createHash(hash).update(message).digest(), sig);
}

export function prepareDsseV002(value: unknown, path: string, sv: SignatureVerifier): KindResult {
  const req = readMessage(value, path, [ENVELOPE, VERIFIERS]);
  const envPath = join(path, 'envelope');
  const envValue = get(req, ENVELOPE, path);
  if (envValue === undefined) throw invalidRequest(`${envPath}: missing envelope`);
  const env = readMessage(envValue, envPath, [PAYLOAD, PAYLOAD_TYPE, SIGNATURES]);
  // An empty payload is the protobuf default and legal DSSE; absent and "" are the same.
  const payload = readBytes(get(env, PAYLOAD, envPath), join(envPath, 'payload')) ?? Buffer.alloc(0);
  const payloadType = readString(get(env, PAYLOAD_TYPE, envPath), join(envPath, 'payloadType')) ?? '';

  const sigsPath = join(envPath, 'signatures');
  const sigItems = readArray(get(env, SIGNATURES, envPath), sigsPath, MAX_DSSE_SIGNATURES);
  if (sigItems.length === 0) throw invalidRequest(`${sigsPath}: envelope missing signatures`);
  const sigs = sigItems.map((item, i) => {
    const p = `${sigsPath}[${i}]`;
    const s = readMessage(item, p, [SIG, KEYID]);
    // The key ID is a hint only; it is neither verified nor stored.
    readString(get(s, KEYID, p), join(p, 'keyid'));
    return requireBytes(get(s, SIG, p), join(p, 'sig'));
  });
  const distinct = new Set(sigs.map((s) => s.toString('base64')));
  if (distinct.size !== sigs.length) throw invalidRequest(`${sigsPath}: duplicate signature`);

  const verPath = join(path, 'verifiers');
  const verItems = readArray(get(req, VERIFIERS, path), verPath, MAX_DSSE_VERIFIERS);
  if (verItems.length === 0) throw invalidRequest(`${verPath}: missing verifiers`);
  const verifiers = verItems.map((item, i) => readVerifier(item, `${verPath}[${i}]`));
  const seen = new Set<string>();
  for (const v of verifiers) {
    const k = v.sentDer.toString('base64');
    if (seen.has(k)) throw invalidRequest(`${verPath}: duplicate verifier`);
    seen.add(k);
  }

  const message = pae(payloadType, payload);
  const bySignature = new Map<string, { content: Buffer; verifier: V2Verifier }>();
  verifiers.forEach((v, i) => {
    let any = false;
    for (const sig of sigs) {
      if (!verifies(sv, v, message, sig)) continue;
      any = true;
      // The first verifier (in request order) that accepts a signature is the one stored with it.
      const k = sig.toString('latin1');
      if (!bySignature.has(k)) bySignature.set(k, { content: sig, verifier: v });
    }
    if (!any) throw badSignature(`could not verify envelope: ${verPath}[${i}] verifies no signature`);
  });
  if (bySignature.size !== sigs.length)
    throw badSignature('could not verify envelope: every signature needs a verifier that accepts it');

  // Go sorts the raw signature bytes as strings: bytewise, which Buffer.compare is.
  const ordered = [...bySignature.values()].sort((a, b) => Buffer.compare(a.content, b.content));
  const payloadDigest = createHash('sha256').update(payload).digest();
  const body = {
    apiVersion: '0.0.2',
    kind: 'dsse',
    spec: {
      dsseV002: {
        payloadHash: { algorithm: 'SHA2_256', digest: payloadDigest.toString('base64') },
        signatures: ordered.map((s) => ({
          content: s.content.toString('base64'),
          verifier: verifierJson(s.verifier),
        })),
      },
    },
  };
  return {
    body,
    indexKeys: [
      ...ordered.flatMap((s) => [
        sha256Hex(s.verifier.material.canonicalPem),
        ...s.verifier.material.subjects,
      ]),
      `sha256:${payloadDigest.toString('hex')}`,
      ...inTotoDigestKeys(payloadType, payload),
    ],
  };
}
