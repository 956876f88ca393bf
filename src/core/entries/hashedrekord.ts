/**
 * hashedrekord 0.0.1 (rekor `pkg/types/hashedrekord/v0.0.1`): a signature over an artifact
 * digest, plus the key or certificate (chain) that made it. Check order and messages follow
 * Rekor: decode base64 -> schema -> cross-field validation and signature verification ->
 * insertability -> algorithm policy -> canonical body.
 */
import type { ArtifactKey, VerificationMaterial } from '../x509';
import { isVellumError } from '../errors';
import { parseVerificationMaterial } from '../x509';
import { DIGEST_LENGTH, ecdsaSignatureForm, type DigestAlgorithm, type SignatureVerifier } from './verifier';
import {
  S,
  checkShape,
  decodeByteField,
  decodeGoHex,
  field,
  invalidEntry,
  invalidSignature,
  isObject,
  sha256Hex,
  specShapeError,
  type JsonObject,
} from './common';
import type { KindResult, PrepareOptions } from './kind';

const SHAPE = S.object({
  signature: S.object({ content: S.string, publicKey: S.object({ content: S.string }) }),
  data: S.object({ hash: S.object({ algorithm: S.string, value: S.string }) }),
});

const ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha384', 'sha512'];

/** Rekor's default `--client-signing-algorithms`: the only key/digest pairs it logs. */
function algorithmAllowed(key: ArtifactKey, hash: DigestAlgorithm): boolean {
  switch (key.algorithm) {
    case 'rsa':
      return hash === 'sha256' && (key.bits === 2048 || key.bits === 3072 || key.bits === 4096);
    case 'ecdsa':
      return (
        (key.curve === 'P-256' && hash === 'sha256') ||
        (key.curve === 'P-384' && hash === 'sha384') ||
        (key.curve === 'P-521' && hash === 'sha512')
      );
    case 'ed25519':
      return hash === 'sha512';
    default:
      return false;
  }
}

/** The text Go's verifier for this key type returns on failure (clients only display it). */
function signatureFailure(key: ArtifactKey, sig: Buffer): string {
  switch (key.algorithm) {
    case 'ecdsa': {
      const form = ecdsaSignatureForm(sig);
      if (form === 'asn1') return 'invalid signature when validating ASN.1 encoded signature';
      if (form === 'bad-p1363') return 'ecdsa: invalid IEEE_P1363 encoded bytes';
      return 'invalid signature when validating IEEE_P1363 encoded signature';
    }
    case 'rsa':
      return 'crypto/rsa: verification error';
    default:
      return 'failed to verify signature: ed25519: invalid signature';
  }
}

export function prepareHashedRekord(
  spec: JsonObject,
  verifier: SignatureVerifier,
  _opts: PrepareOptions,
): KindResult {
  checkShape(spec, SHAPE, '', specShapeError);
  const signature = field(spec, 'signature') as JsonObject | undefined;
  const publicKey = field(signature, 'publicKey') as JsonObject | undefined;
  const data = field(spec, 'data') as JsonObject | undefined;
  const hash = field(data, 'hash') as JsonObject | undefined;

  const sigBytes = decodeByteField(field(signature, 'content'), 'signature content');
  const keyBytes = decodeByteField(field(publicKey, 'content'), 'public key content');

  // Schema validation (go-openapi order: data before signature).
  if (!isObject(hash)) throw invalidEntry('data in body is required');
  const algorithm = field(hash, 'algorithm');
  if (algorithm === undefined) throw invalidEntry('data.hash.algorithm in body is required');
  if (!ALGORITHMS.includes(algorithm as DigestAlgorithm)) {
    throw invalidEntry(`data.hash.algorithm in body should be one of [${ALGORITHMS.join(' ')}]`);
  }
  const alg = algorithm as DigestAlgorithm;
  const value = field(hash, 'value');
  if (typeof value !== 'string') throw invalidEntry('data.hash.value in body is required');
  if (signature === undefined) throw invalidEntry('signature in body is required');

  // Cross-field validation (entry.go validate()).
  if (publicKey === undefined) throw invalidEntry('missing public key');
  let material: VerificationMaterial;
  try {
    material = parseVerificationMaterial(keyBytes ?? Buffer.alloc(0), true);
  } catch (e) {
    if (!isVellumError(e, 'INVALID_CERTIFICATE')) throw e;
    // A chain that does not verify surfaces from Go's signature verification step.
    const prefix = e.message.includes('unknown authority') ? 'verifying signature: ' : '';
    throw (prefix ? invalidSignature : invalidEntry)(prefix + e.message);
  }
  // Go measures the hex string in bytes.
  if (Buffer.byteLength(value, 'utf8') !== DIGEST_LENGTH[alg] * 2)
    throw invalidEntry('invalid value for hash');
  let digest: Buffer;
  try {
    digest = decodeGoHex(value);
  } catch (e) {
    throw invalidEntry((e as Error).message);
  }
  if (sigBytes === undefined)
    throw invalidSignature('verifying signature: X509 signature has not been initialized');
  if (!verifier.verifyDigest(material.key, alg, digest, sigBytes)) {
    throw invalidSignature(`verifying signature: ${signatureFailure(material.key, sigBytes)}`);
  }

  // Insertable() has nothing left to reject: every field it checks is present once the signature
  // verified, so search and insert behave the same for this kind.

  if (!algorithmAllowed(material.key, alg)) throw invalidSignature('entry algorithms are not allowed');

  const canonicalPemB64 = Buffer.from(material.canonicalPem, 'latin1').toString('base64');
  const body = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      // The hex value is kept verbatim (uppercase stays uppercase), as Rekor does.
      data: { hash: { algorithm: alg, value } },
      signature: { content: sigBytes.toString('base64'), publicKey: { content: canonicalPemB64 } },
    },
  };
  return {
    body,
    indexKeys: [sha256Hex(material.canonicalPem), ...material.subjects, `${alg}:${value}`],
  };
}
