/**
 * Signers for every key type Rekor v2 allows (node:crypto, and @noble/curves for Ed25519ph, which
 * node:crypto lacks), the v2 requests they make, and the assertions the v2 parser tests share.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { ed25519, ed25519ph } from '@noble/curves/ed25519';
import { prepareV2Entry } from '../../src/core/entries/v2';
import { referenceVerifier, type SignatureVerifier } from '../../src/core/entries';
import { pae } from '../../src/core/entries/common';
import { canonicalBytes } from '../../src/core/jcs';
import { isVellumError } from '../../src/core/errors';
import { createFastVerifier } from '../../src/crypto/fast-verifier';

export const VERIFIERS: ReadonlyArray<[string, SignatureVerifier]> = [
  ['reference', referenceVerifier],
  ['fast', createFastVerifier()],
];
export const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
export const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
export const ARTIFACT = Buffer.from('vellum v2 artifact\n');

export interface Signer {
  readonly name: string;
  readonly spki: Buffer;
  readonly keyDetails: string;
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** Signature over ARTIFACT whose digest (with `hash`) the hashedrekord carries. */
  signArtifact(data: Buffer): Buffer;
  /** Signature over DSSE PAE bytes. */
  signMessage(data: Buffer): Buffer;
}

export function nodeSigner(
  name: string,
  keys: { privateKey: KeyObject; publicKey: KeyObject },
  keyDetails: string,
  hash: Signer['hash'],
): Signer {
  return {
    name,
    spki: keys.publicKey.export({ type: 'spki', format: 'der' }),
    keyDetails,
    hash,
    signArtifact: (d) => sign(hash, d, keys.privateKey),
    signMessage: (d) => sign(hash, d, keys.privateKey),
  };
}

export function ed25519Signer(): Signer {
  const priv = ed25519.utils.randomPrivateKey();
  return {
    name: 'Ed25519ph',
    spki: Buffer.concat([ED25519_SPKI_PREFIX, ed25519.getPublicKey(priv)]),
    keyDetails: 'PKIX_ED25519_PH',
    hash: 'sha512',
    // noble's ed25519ph hashes the message with SHA-512 itself: PH(M) is the digest logged.
    signArtifact: (d) => Buffer.from(ed25519ph.sign(d, priv)),
    signMessage: (d) => Buffer.from(ed25519.sign(d, priv)),
  };
}

export const SIGNERS: Signer[] = [
  nodeSigner(
    'P-256',
    generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    'PKIX_ECDSA_P256_SHA_256',
    'sha256',
  ),
  nodeSigner(
    'P-384',
    generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    'PKIX_ECDSA_P384_SHA_384',
    'sha384',
  ),
  nodeSigner(
    'P-521',
    generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    'PKIX_ECDSA_P521_SHA_512',
    'sha512',
  ),
  ...[2048, 3072, 4096].map((bits) =>
    nodeSigner(
      `RSA-${bits}`,
      generateKeyPairSync('rsa', { modulusLength: bits }),
      `PKIX_RSA_PKCS1V15_${bits}_SHA256`,
      'sha256',
    ),
  ),
  ed25519Signer(),
];
export const P256 = SIGNERS[0]!;

export function hashedRequest(
  s: Signer,
  opts: { slot?: 'publicKey' | 'x509Certificate'; keyDetails?: string; der?: Buffer; data?: Buffer } = {},
) {
  const data = opts.data ?? ARTIFACT;
  return {
    hashedRekordRequestV002: {
      digest: b64(createHash(s.hash).update(data).digest()),
      signature: {
        content: b64(s.signArtifact(data)),
        verifier: {
          [opts.slot ?? 'publicKey']: { rawBytes: b64(opts.der ?? s.spki) },
          keyDetails: opts.keyDetails ?? s.keyDetails,
        },
      },
    },
  };
}

export const HASH_NAME = { sha256: 'SHA2_256', sha384: 'SHA2_384', sha512: 'SHA2_512' } as const;

/** The body rekor-tiles would store, from the proto field names (JCS sorts the keys). */
export function expectedHashedBody(
  s: Signer,
  slot: 'publicKey' | 'x509Certificate',
  der: Buffer,
  sig: string,
): Buffer {
  return canonicalBytes({
    kind: 'hashedrekord',
    apiVersion: '0.0.2',
    spec: {
      hashedRekordV002: {
        data: { algorithm: HASH_NAME[s.hash], digest: b64(createHash(s.hash).update(ARTIFACT).digest()) },
        signature: { content: sig, verifier: { keyDetails: s.keyDetails, [slot]: { rawBytes: b64(der) } } },
      },
    },
  });
}

export function leaf(body: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0]))
    .update(body)
    .digest();
}

export function rejects(input: unknown, code: string, message: RegExp, verifier = referenceVerifier): void {
  assert.throws(
    () => prepareV2Entry(input, verifier),
    (e: unknown) => isVellumError(e, code as never) && message.test((e as Error).message),
  );
}

export function dsseRequest(
  signers: Signer[],
  payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}'),
  payloadType = 'application/vnd.in-toto+json',
) {
  const message = pae(payloadType, payload);
  return {
    dsseRequestV002: {
      envelope: {
        payload: b64(payload),
        payloadType,
        signatures: signers.map((s, i) => ({ sig: b64(s.signMessage(message)), keyid: `k${i}` })),
      },
      verifiers: signers.map((s) => ({ publicKey: { rawBytes: b64(s.spki) }, keyDetails: s.keyDetails })),
    },
  };
}
