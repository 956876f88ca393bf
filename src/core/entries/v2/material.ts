/**
 * The one place the Rekor v2 parser reaches into the certificate/key parser (`core/x509`).
 *
 * Rekor v2 verifiers carry raw DER: `publicKey.rawBytes` is a SubjectPublicKeyInfo and
 * `x509Certificate.rawBytes` a certificate. sigstore-js 4.x puts a bare SPKI into
 * `x509Certificate` (sigstore-clients notes, "v2 quirks"), so a DER blob in that slot that is not
 * a certificate is tried as a key before it is refused; the result says which it really was, so
 * the stored body names the right slot.
 */
import { pemEncode } from '../../encoding';
import { isVellumError } from '../../errors';
import { parseSpki, parseVerificationMaterial, type ArtifactKey } from '../../x509';
import { invalidRequest } from './request';

export type { ArtifactKey } from '../../x509';

/** What the x509 parser throws for material it refuses (any other error is a bug). */
const isParseError = (e: unknown): boolean =>
  isVellumError(e, 'INVALID_CERTIFICATE') || isVellumError(e, 'INVALID_DER');

export interface V2Material {
  readonly key: ArtifactKey;
  /** What the DER really is, whatever slot it came in. */
  readonly form: 'publicKey' | 'x509Certificate';
  /** The DER as it will be stored: the canonical SPKI, or the certificate byte for byte. */
  readonly der: Buffer;
  /** Go `pem.Encode` text of the key or certificate: what the v1 search index hashes. */
  readonly canonicalPem: string;
  /** Certificate SANs (empty for a bare key). */
  readonly subjects: readonly string[];
}

function fromSpki(der: Buffer): V2Material {
  const key = parseSpki(der);
  return {
    key,
    form: 'publicKey',
    der: key.spki,
    canonicalPem: pemEncode('PUBLIC KEY', key.spki),
    subjects: [],
  };
}

function fromCertificate(der: Buffer): V2Material {
  const m = parseVerificationMaterial(Buffer.from(pemEncode('CERTIFICATE', der), 'latin1'), false);
  return {
    key: m.key,
    form: 'x509Certificate',
    der: m.certificates[0]!,
    canonicalPem: m.canonicalPem,
    subjects: m.subjects,
  };
}

/** Parses one verifier's DER; INVALID_ENTRY with the parser's reason when it is neither form. */
export function parseV2Verifier(
  slot: 'publicKey' | 'x509Certificate',
  der: Buffer,
  what: string,
): V2Material {
  try {
    if (slot === 'publicKey') return fromSpki(der);
    try {
      return fromCertificate(der);
    } catch (certError) {
      if (!isParseError(certError)) throw certError;
      try {
        return fromSpki(der);
      } catch (keyError) {
        if (isParseError(keyError)) throw certError;
        throw keyError;
      }
    }
  } catch (e) {
    if (isParseError(e)) throw invalidRequest(`${what}: parsing ${slot}: ${(e as Error).message}`);
    throw e;
  }
}
