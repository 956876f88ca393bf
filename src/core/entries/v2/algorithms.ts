/**
 * Which signature algorithm a Rekor v2 verifier stands for.
 *
 * `keyDetails` is a protobuf-specs `PublicKeyDetails` name. Rekor v2 (rekor-tiles
 * `internal/algorithmregistry`) allows RSA PKCS#1 v1.5 2048/3072/4096 with SHA-256, ECDSA
 * P-256/SHA-256, P-384/SHA-384, P-521/SHA-512 and Ed25519ph (SHA-512); there is exactly one
 * allowed algorithm per key type and size, so the key alone names it.
 *
 * sigstore-js 4.x sends `PKIX_ECDSA_P256_SHA_256` whatever its key is. The rule here:
 *  - `keyDetails` must be a known PublicKeyDetails name (or its enum number, as protobuf JSON allows);
 *  - `PKIX_ECDSA_P256_SHA_256` on a key that is not P-256 is the sigstore-js label: the key decides;
 *  - otherwise, a name of the key's own family (RSA, ECDSA, Ed25519) must be the allowed one for
 *    that key (a P-384 key labelled P384_SHA_256, an RSA key labelled PSS, or pure PKIX_ED25519
 *    on a hashedrekord are refused, as rekor-tiles refuses them);
 *  - a name of another family is a mislabel of the same kind, and the key decides too.
 * Consequence for a pure-Ed25519 signer behind the P-256 label: its key stands for Ed25519ph over a
 * SHA-512 digest, so a hashedrekord carrying a 32-byte SHA-256 digest is refused for its digest
 * length, while a DSSE envelope (signed over the PAE bytes, pure Ed25519) is accepted. rekor-tiles
 * refuses both (Ed25519 key with SHA-256 is not in its registry); accepting the DSSE case is the
 * one tolerance beyond it, and the stored body then names PKIX_ED25519_PH truthfully.
 */
import type { ArtifactKey } from './material';
import { invalidRequest, badSignature } from './request';
import type { DigestAlgorithm } from '../verifier';

/** protobuf-specs `PublicKeyDetails`, name -> enum number. */
export const PUBLIC_KEY_DETAILS: Readonly<Record<string, number>> = {
  PUBLIC_KEY_DETAILS_UNSPECIFIED: 0,
  PKCS1_RSA_PKCS1V5: 1,
  PKCS1_RSA_PSS: 2,
  PKIX_RSA_PKCS1V5: 3,
  PKIX_RSA_PSS: 4,
  PKIX_ECDSA_P256_SHA_256: 5,
  PKIX_ECDSA_P256_HMAC_SHA_256: 6,
  PKIX_ED25519: 7,
  PKIX_ED25519_PH: 8,
  PKIX_RSA_PKCS1V15_2048_SHA256: 9,
  PKIX_RSA_PKCS1V15_3072_SHA256: 10,
  PKIX_RSA_PKCS1V15_4096_SHA256: 11,
  PKIX_ECDSA_P384_SHA_384: 12,
  PKIX_ECDSA_P521_SHA_512: 13,
  LMS_SHA256: 14,
  LMOTS_SHA256: 15,
  PKIX_RSA_PSS_2048_SHA256: 16,
  PKIX_RSA_PSS_3072_SHA256: 17,
  PKIX_RSA_PSS_4096_SHA256: 18,
  PKIX_ECDSA_P384_SHA_256: 19,
  PKIX_ECDSA_P521_SHA_256: 20,
  ML_DSA_65: 21,
  ML_DSA_87: 22,
  ML_DSA_44: 23,
};

const NAME_BY_NUMBER: ReadonlyMap<number, string> = new Map(
  Object.entries(PUBLIC_KEY_DETAILS).map(([name, n]) => [n, name]),
);

/** What sigstore-js 4.x sends as keyDetails for every key. */
const SIGSTORE_JS_LABEL = 'PKIX_ECDSA_P256_SHA_256';

type Family = 'rsa' | 'ecdsa' | 'ed25519' | 'other';

function familyOf(name: string): Family {
  if (name.includes('RSA')) return 'rsa';
  if (name.startsWith('PKIX_ECDSA_')) return 'ecdsa';
  if (name.startsWith('PKIX_ED25519')) return 'ed25519';
  return 'other';
}

export interface V2Algorithm {
  /** The allowed PublicKeyDetails name for the key: what the stored body carries. */
  readonly keyDetails: string;
  /** Digest algorithm of a hashedrekord (and of the DSSE PAE for ECDSA/RSA). */
  readonly hash: DigestAlgorithm;
}

/** protobuf-specs `HashAlgorithm` names as protobuf JSON writes them in `HashOutput.algorithm`. */
export const HASH_ALGORITHM_NAME: Readonly<Record<DigestAlgorithm, string>> = {
  sha256: 'SHA2_256',
  sha384: 'SHA2_384',
  sha512: 'SHA2_512',
};

/** A `keyDetails` JSON value as protobuf JSON reads an enum: its name or its number. */
export function readKeyDetails(value: unknown, path: string): string {
  if (typeof value === 'string' && Object.prototype.hasOwnProperty.call(PUBLIC_KEY_DETAILS, value)) {
    if (value !== 'PUBLIC_KEY_DETAILS_UNSPECIFIED') return value;
  } else if (typeof value === 'number' && NAME_BY_NUMBER.has(value) && value !== 0) {
    return NAME_BY_NUMBER.get(value)!;
  }
  if (value === undefined || value === null || value === 'PUBLIC_KEY_DETAILS_UNSPECIFIED' || value === 0) {
    throw invalidRequest(`${path} is required`);
  }
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : typeof value;
  throw invalidRequest(`${path}: unknown PublicKeyDetails value ${shown}`);
}

function allowedFor(key: ArtifactKey): V2Algorithm {
  switch (key.algorithm) {
    case 'ecdsa':
      if (key.curve === 'P-256') return { keyDetails: 'PKIX_ECDSA_P256_SHA_256', hash: 'sha256' };
      if (key.curve === 'P-384') return { keyDetails: 'PKIX_ECDSA_P384_SHA_384', hash: 'sha384' };
      return { keyDetails: 'PKIX_ECDSA_P521_SHA_512', hash: 'sha512' };
    case 'rsa':
      if (key.bits === 2048 || key.bits === 3072 || key.bits === 4096)
        return { keyDetails: `PKIX_RSA_PKCS1V15_${key.bits}_SHA256`, hash: 'sha256' };
      throw badSignature(`unsupported entry algorithm for RSA key, size ${key.bits}`);
    case 'ed25519':
      return { keyDetails: 'PKIX_ED25519_PH', hash: 'sha512' };
    default:
      throw badSignature('unsupported key type');
  }
}

/** The algorithm a verifier stands for (see the rule above); INVALID_SIGNATURE when not allowed. */
export function effectiveAlgorithm(key: ArtifactKey, declared: string): V2Algorithm {
  const allowed = allowedFor(key);
  if (declared === SIGSTORE_JS_LABEL) return allowed;
  if (familyOf(declared) === key.algorithm && declared !== allowed.keyDetails) {
    throw badSignature(
      `keyDetails ${declared} is not allowed for this ${key.algorithm.toUpperCase()} key (allowed: ${allowed.keyDetails})`,
    );
  }
  return allowed;
}
