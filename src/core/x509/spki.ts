/**
 * Public keys (SubjectPublicKeyInfo, RFC 5280 section 4.1.2.7) as Rekor's `pkg/pki/x509` sees
 * them: restricted to what Rekor can verify (RSA, ECDSA on P-256/384/521, Ed25519), and only in
 * their unique DER encoding, re-encoded the way Go's `x509.MarshalPKIXPublicKey` does, so one key
 * has exactly one canonical PEM and one index hash whatever the client sent. Refusals are
 * VellumErrors INVALID_CERTIFICATE with Go's wording.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { p256, p384, p521 } from '@noble/curves/nist';
import { VellumError, isVellumError } from '../errors';
import {
  TAG,
  children,
  encodeBitString,
  encodeSequence,
  encodeUnsignedInteger,
  expectTag,
  readInteger,
  readOid,
  readWhole,
  type Tlv,
} from '../asn1';

/** A certificate or key that is not acceptable, in Go's words; callers add their own prefix. */
export function certificateError(message: string): VellumError {
  return new VellumError('INVALID_CERTIFICATE', message);
}

export type KeyAlgorithm = 'ecdsa' | 'rsa' | 'ed25519';
export type EcCurve = 'P-256' | 'P-384' | 'P-521';

/** A parsed, canonicalized public key that a SignatureVerifier can check signatures with. */
export interface ArtifactKey {
  readonly algorithm: KeyAlgorithm;
  /** Set for ECDSA keys only. */
  readonly curve?: EcCurve;
  /** RSA modulus bits; curve field bits for ECDSA (256/384/521); 256 for Ed25519. */
  readonly bits: number;
  /** Canonical DER SubjectPublicKeyInfo (Go `MarshalPKIXPublicKey` form). */
  readonly spki: Buffer;
  /** ECDSA: uncompressed SEC1 point 04||X||Y. Ed25519: the 32-byte key. RSA: modulus, big-endian. */
  readonly publicBytes: Buffer;
  /** RSA public exponent, big-endian; undefined for other algorithms. */
  readonly rsaExponent?: Buffer;
  /** node:crypto handle for the same key, created lazily on first access. */
  readonly keyObject: KeyObject;
}

const MIN_RSA_BITS = 1024;
// Bounds the cost of one verification (hostile keys are free to submit).
const MAX_RSA_BITS = 8192;

const EC_SPKI_PREFIX: Readonly<Record<EcCurve, Buffer>> = {
  'P-256': Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
  'P-384': Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'),
  'P-521': Buffer.from('30819b301006072a8648ce3d020106052b8104002303818600', 'hex'),
};
const EC_FIELD_BYTES: Readonly<Record<EcCurve, number>> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };
const EC_FIELD_BITS: Readonly<Record<EcCurve, number>> = { 'P-256': 256, 'P-384': 384, 'P-521': 521 };
const EC_CURVE_OIDS: Readonly<Record<string, EcCurve>> = {
  '1.2.840.10045.3.1.7': 'P-256',
  '1.3.132.0.34': 'P-384',
  '1.3.132.0.35': 'P-521',
};
const NOBLE_CURVES = { 'P-256': p256, 'P-384': p384, 'P-521': p521 } as const;
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const OID_ED25519 = '1.3.101.112';
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const RSA_ALGORITHM_ID = Buffer.from('300d06092a864886f70d0101010500', 'hex');

function stripLeadingZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function bitLength(b: Buffer): number {
  const m = stripLeadingZeros(b);
  if (m.length === 0 || (m.length === 1 && m[0] === 0)) return 0;
  return (m.length - 1) * 8 + (32 - Math.clz32(m[0]!));
}

const failedToParse = (): VellumError => certificateError('x509: failed to parse public key');

/** The content of a BIT STRING with no unused bits (all SPKI key encodings are whole bytes). */
function bitStringBytes(der: Buffer, t: Tlv): Buffer {
  if (t.tag !== TAG.BIT_STRING || t.end === t.start || der[t.start] !== 0) throw failedToParse();
  return der.subarray(t.start + 1, t.end);
}

/**
 * node:crypto's handle for a key, created on first use only: OpenSSL 3.0's generic key decoder
 * costs more than a signature check (~100-250 us), and the fast paths never need it.
 */
function withLazyKeyObject(key: Omit<ArtifactKey, 'keyObject'>): ArtifactKey {
  let cached: KeyObject | undefined;
  return Object.defineProperty({ ...key }, 'keyObject', {
    enumerable: false,
    get(): KeyObject {
      if (cached === undefined) {
        // JWK import skips the decoder for RSA and Ed25519 (~7 us); EC goes through DER.
        if (key.algorithm === 'rsa') {
          cached = createPublicKey({
            key: {
              kty: 'RSA',
              n: key.publicBytes.toString('base64url'),
              e: key.rsaExponent!.toString('base64url'),
            },
            format: 'jwk',
          });
        } else if (key.algorithm === 'ed25519') {
          cached = createPublicKey({
            key: { kty: 'OKP', crv: 'Ed25519', x: key.publicBytes.toString('base64url') },
            format: 'jwk',
          });
        } else {
          cached = createPublicKey({ key: key.spki, format: 'der', type: 'spki' });
        }
      }
      return cached;
    },
  }) as ArtifactKey;
}

/**
 * Points already found on their curve. The check (coordinates decoded to bigints, the curve
 * equation evaluated) cost about a sixth of a verification worker's time per entry, and a log
 * sees the same few signing keys over and over. Only points that passed are remembered, so a refusal is always
 * recomputed and its answer never depends on what came before. Bounded, oldest forgotten first.
 */
const VALID_POINTS_MAX = 1024;
const validPoints = new Set<string>();

function requireCurvePoint(curve: EcCurve, point: Buffer): void {
  const key = curve + point.toString('latin1');
  if (validPoints.has(key)) return;
  try {
    NOBLE_CURVES[curve].ProjectivePoint.fromHex(point).assertValidity();
  } catch {
    throw certificateError('x509: invalid elliptic curve public key');
  }
  if (validPoints.size >= VALID_POINTS_MAX) validPoints.delete(validPoints.values().next().value as string);
  validPoints.add(key);
}

/**
 * Parses a DER SubjectPublicKeyInfo like Go's `x509.ParsePKIXPublicKey`, restricted to what
 * Rekor can verify (RSA, ECDSA on P-256/384/521, Ed25519), and only in its unique DER encoding:
 * compressed points, explicit curve parameters, missing RSA NULL parameters, BER lengths and
 * trailing bytes are all refused, so the re-encoded key is byte-identical to the input.
 */
export function parseSpki(der: Buffer): ArtifactKey {
  let algOid: string;
  let params: Tlv | undefined;
  let keyBits: Buffer;
  try {
    const [algId, bits, ...rest] = children(der, readWhole(der, TAG.SEQUENCE, 'SubjectPublicKeyInfo'));
    if (rest.length > 0 || bits === undefined) throw failedToParse();
    const algParts = children(der, expectTag(algId, TAG.SEQUENCE, 'AlgorithmIdentifier'));
    if (algParts.length > 2) throw failedToParse();
    algOid = readOid(der, expectTag(algParts[0], TAG.OID, 'OID'));
    params = algParts[1];
    keyBits = bitStringBytes(der, bits);
  } catch (e) {
    if (isVellumError(e, 'INVALID_DER')) throw failedToParse();
    throw e;
  }

  let key: Omit<ArtifactKey, 'keyObject'>;
  if (algOid === OID_EC_PUBLIC_KEY) {
    let curve: EcCurve | undefined;
    try {
      curve = params?.tag === TAG.OID ? EC_CURVE_OIDS[readOid(der, params)] : undefined;
    } catch {
      curve = undefined;
    }
    if (curve === undefined) throw certificateError('x509: unsupported elliptic curve');
    const size = EC_FIELD_BYTES[curve];
    if (keyBits.length !== 1 + 2 * size || keyBits[0] !== 0x04) throw failedToParse();
    requireCurvePoint(curve, keyBits);
    const publicBytes = Buffer.from(keyBits);
    key = {
      algorithm: 'ecdsa',
      curve,
      bits: EC_FIELD_BITS[curve],
      spki: Buffer.concat([EC_SPKI_PREFIX[curve], publicBytes]),
      publicBytes,
    };
  } else if (algOid === OID_ED25519) {
    if (params !== undefined || keyBits.length !== 32) throw failedToParse();
    const publicBytes = Buffer.from(keyBits);
    key = {
      algorithm: 'ed25519',
      bits: 256,
      spki: Buffer.concat([ED25519_SPKI_PREFIX, publicBytes]),
      publicBytes,
    };
  } else if (algOid === OID_RSA_ENCRYPTION) {
    let n: ReturnType<typeof readInteger>;
    let e: ReturnType<typeof readInteger>;
    try {
      const parts = children(keyBits, readWhole(keyBits, TAG.SEQUENCE, 'RSAPublicKey'));
      if (parts.length !== 2) throw failedToParse();
      n = readInteger(keyBits, parts[0]!);
      e = readInteger(keyBits, parts[1]!);
    } catch (err) {
      if (isVellumError(err, 'INVALID_DER')) throw failedToParse();
      throw err;
    }
    if (n.negative || e.negative) throw certificateError('x509: RSA key is not a positive number');
    const modulus = stripLeadingZeros(Buffer.from(n.magnitude));
    const exponent = stripLeadingZeros(Buffer.from(e.magnitude));
    const bits = bitLength(modulus);
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS)
      throw certificateError(`x509: unsupported RSA key size ${bits}`);
    const eBits = bitLength(exponent);
    // Go's crypto/rsa refuses e < 2 and e >= 2^31; an even exponent is never valid RSA.
    if (eBits < 2 || eBits > 31 || (exponent[exponent.length - 1]! & 1) === 0) {
      throw certificateError('x509: unsupported RSA public exponent');
    }
    // RSA_ALGORITHM_ID carries the NULL parameters Go requires and re-emits.
    const spki = encodeSequence(
      RSA_ALGORITHM_ID,
      encodeBitString(encodeSequence(encodeUnsignedInteger(modulus), encodeUnsignedInteger(exponent))),
    );
    key = { algorithm: 'rsa', bits, spki, publicBytes: modulus, rsaExponent: exponent };
  } else {
    throw certificateError('x509: unknown public key algorithm');
  }
  if (!key.spki.equals(der)) throw failedToParse();
  return withLazyKeyObject(key);
}
