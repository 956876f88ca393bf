/**
 * hashedrekord 0.0.2 (rekor-tiles `pkg/types/hashedrekord`): a signature over a precomputed
 * digest. The digest length must be that of the hash the verifier's algorithm implies; the
 * signature is checked over the digest itself (ECDSA on the digest, RSA PKCS#1 v1.5 with the
 * DigestInfo, Ed25519ph with the digest as PH(M)).
 */
import { sha256Hex, type JsonObject } from '../common';
import type { SignatureVerifier } from '../verifier';
import { DIGEST_LENGTH } from '../verifier';
import type { KindResult } from '../kind';
import { HASH_ALGORITHM_NAME } from './algorithms';
import {
  type FieldName,
  badSignature,
  get,
  invalidRequest,
  join,
  readMessage,
  requireBytes,
} from './request';
import { readVerifier, verifierJson } from './verifier-message';

const DIGEST: FieldName = ['digest'];
const SIGNATURE: FieldName = ['signature'];
const CONTENT: FieldName = ['content'];
const VERIFIER: FieldName = ['verifier'];

export function prepareHashedRekordV002(
  value: unknown,
  path: string,
  verifier: SignatureVerifier,
): KindResult {
  const req = readMessage(value, path, [DIGEST, SIGNATURE]);
  const sigPath = join(path, 'signature');
  const sigValue = get(req, SIGNATURE, path);
  if (sigValue === undefined) throw invalidRequest(`${sigPath} is required`);
  const sig: JsonObject = readMessage(sigValue, sigPath, [CONTENT, VERIFIER]);
  const content = requireBytes(get(sig, CONTENT, sigPath), join(sigPath, 'content'));
  const verifierValue = get(sig, VERIFIER, sigPath);
  if (verifierValue === undefined) throw invalidRequest(`${join(sigPath, 'verifier')} is required`);
  const digest = requireBytes(get(req, DIGEST, path), join(path, 'digest'));
  const v = readVerifier(verifierValue, join(sigPath, 'verifier'));

  const { hash, keyDetails } = v.algorithm;
  if (digest.length !== DIGEST_LENGTH[hash]) {
    throw invalidRequest(
      `digest length (${digest.length}) does not match expected size (${DIGEST_LENGTH[hash]}) for ${keyDetails}`,
    );
  }
  if (!verifier.verifyDigest(v.material.key, hash, digest, content))
    throw badSignature('verifying signature: the signature does not verify over the digest');

  const body = {
    apiVersion: '0.0.2',
    kind: 'hashedrekord',
    spec: {
      hashedRekordV002: {
        data: { algorithm: HASH_ALGORITHM_NAME[hash], digest: digest.toString('base64') },
        signature: { content: content.toString('base64'), verifier: verifierJson(v) },
      },
    },
  };
  // The same keys a v1 hashedrekord gets, so the v1 index search finds v2 entries alike.
  return {
    body,
    indexKeys: [
      sha256Hex(v.material.canonicalPem),
      ...v.material.subjects,
      `${hash}:${digest.toString('hex')}`,
    ],
  };
}
