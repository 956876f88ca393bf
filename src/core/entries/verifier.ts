/**
 * Signature verification as the entry kinds need it, behind one small interface so the slow,
 * obviously-correct reference (pure JS, @noble/curves + bigint RSA) and the fast path
 * (src/crypto/fast-verifier.ts: OpenSSL via a native addon and node:crypto) can be swapped and
 * tested against each other.
 *
 * Semantics follow Rekor's Go verifiers (sigstore/sigstore `signature.LoadVerifier`), because an
 * entry Rekor accepts must be accepted here and vice versa:
 *   verifyDigest  hashedrekord: the signature is over a precomputed digest.
 *                 ECDSA: digest used directly (DER or IEEE P1363 signature); RSA: PKCS#1 v1.5 with
 *                 the DigestInfo of `hash`; Ed25519: Ed25519ph, which only exists for SHA-512.
 *   verifyMessage DSSE/intoto: the signature is over the PAE bytes with SHA-256 for every ECDSA
 *                 curve and RSA (Go loads every verifier with crypto.SHA256), pure Ed25519.
 * Both return false for anything that does not verify, including malformed signatures; they
 * throw only on programming errors (never on attacker bytes).
 */
import { sha256 } from '@noble/hashes/sha2';
import { p256, p384, p521 } from '@noble/curves/nist';
import { ed25519, ed25519ph } from '@noble/curves/ed25519';
import { twistedEdwards } from '@noble/curves/abstract/edwards';
import type { ArtifactKey, EcCurve } from '../x509';
import { ecdsaSignatureScalars } from '../x509';

export { ecdsaSignatureForm, ecdsaSignatureScalars, ecdsaSignatureToDer } from '../x509';
export type { EcdsaSignatureForm } from '../x509';

export type DigestAlgorithm = 'sha256' | 'sha384' | 'sha512';

export const DIGEST_LENGTH: Readonly<Record<DigestAlgorithm, number>> = {
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

export interface SignatureVerifier {
  /** Signature over a precomputed `digest` of length DIGEST_LENGTH[hash] (hashedrekord). */
  verifyDigest(key: ArtifactKey, hash: DigestAlgorithm, digest: Buffer, signature: Buffer): boolean;
  /** Signature over the full `message` (DSSE PAE): SHA-256 for ECDSA/RSA, pure Ed25519. */
  verifyMessage(key: ArtifactKey, message: Buffer, signature: Buffer): boolean;
}

// ---------------------------------------------------------------------------------------------
// Reference implementation
// ---------------------------------------------------------------------------------------------

const CURVES = { 'P-256': p256, 'P-384': p384, 'P-521': p521 } as const;

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0
    ? 0n
    : BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex'));
}

function ecdsaVerifyReference(curve: EcCurve, point: Buffer, digest: Uint8Array, sig: Buffer): boolean {
  const rs = ecdsaSignatureScalars(sig);
  if (rs === null) return false;
  const c = CURVES[curve];
  const r = toBigInt(rs.r);
  const s = toBigInt(rs.s);
  const n = c.CURVE.n;
  if (r <= 0n || r >= n || s <= 0n || s >= n) return false;
  try {
    // lowS: false because Go (and OpenSSL) accept high-S signatures; prehash: false because the
    // digest is the message representative already.
    const compact = new c.Signature(r, s).toBytes('compact');
    return c.verify(compact, digest, point, { prehash: false, lowS: false, format: 'compact' });
  } catch {
    return false;
  }
}

// DER DigestInfo prefixes (RFC 8017 §9.2 note 1) for EMSA-PKCS1-v1_5.
const DIGEST_INFO: Readonly<Record<DigestAlgorithm, Buffer>> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

/** RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) in plain bigint arithmetic. */
function rsaVerifyReference(
  key: ArtifactKey,
  hash: DigestAlgorithm,
  digest: Uint8Array,
  sig: Buffer,
): boolean {
  if (key.rsaExponent === undefined) return false;
  const n = toBigInt(key.publicBytes);
  const e = toBigInt(key.rsaExponent);
  const k = Math.ceil(key.bits / 8);
  // Go and OpenSSL both insist on a signature exactly as long as the modulus.
  if (sig.length !== k) return false;
  const s = toBigInt(sig);
  if (s >= n) return false;
  const m = modPow(s, e, n);
  const em = Buffer.from(m.toString(16).padStart(k * 2, '0'), 'hex');
  const t = Buffer.concat([DIGEST_INFO[hash], digest]);
  if (k < t.length + 11) return false;
  const expected = Buffer.concat([
    Buffer.from([0x00, 0x01]),
    Buffer.alloc(k - t.length - 3, 0xff),
    Buffer.from([0x00]),
    t,
  ]);
  return em.equals(expected);
}

/**
 * Ed25519ph over a digest the caller already has. noble's `ed25519ph` always hashes its input
 * itself, so this instance reuses its curve and domain (dom2 with the prehash flag set) with an
 * identity "prehash": the 64-byte SHA-512 digest is exactly PH(M).
 */
const ed25519phDigest = twistedEdwards({
  ...ed25519ph.CURVE,
  prehash: (m: Uint8Array | string) => m as Uint8Array,
});

export function verifyEd25519ph(publicKey: Uint8Array, digest: Uint8Array, sig: Uint8Array): boolean {
  if (digest.length !== 64 || sig.length !== 64 || publicKey.length !== 32) return false;
  try {
    // zip215: false is RFC 8032 / Go semantics (canonical encodings, no small-order keys).
    return ed25519phDigest.verify(sig, digest, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

function digestOk(hash: DigestAlgorithm, digest: Buffer): boolean {
  return Object.prototype.hasOwnProperty.call(DIGEST_LENGTH, hash) && digest.length === DIGEST_LENGTH[hash];
}

export const referenceVerifier: SignatureVerifier = {
  verifyDigest(key, hash, digest, signature) {
    if (!digestOk(hash, digest)) return false;
    switch (key.algorithm) {
      case 'ecdsa':
        return ecdsaVerifyReference(key.curve!, key.publicBytes, digest, signature);
      case 'rsa':
        return rsaVerifyReference(key, hash, digest, signature);
      case 'ed25519':
        return hash === 'sha512' && verifyEd25519ph(key.publicBytes, digest, signature);
      default:
        return false;
    }
  },
  verifyMessage(key, message, signature) {
    switch (key.algorithm) {
      case 'ecdsa':
        return ecdsaVerifyReference(key.curve!, key.publicBytes, sha256(message), signature);
      case 'rsa':
        return rsaVerifyReference(key, 'sha256', sha256(message), signature);
      case 'ed25519':
        try {
          return (
            signature.length === 64 && ed25519.verify(signature, message, key.publicBytes, { zip215: false })
          );
        } catch {
          return false;
        }
      default:
        return false;
    }
  },
};
