/**
 * The Rekor v2 `Verifier` message: a oneof of `publicKey{rawBytes}` (DER SPKI) and
 * `x509Certificate{rawBytes}` (DER certificate), plus `keyDetails`.
 */
import { effectiveAlgorithm, readKeyDetails, type V2Algorithm } from './algorithms';
import { parseV2Verifier, type V2Material } from './material';
import { type FieldName, get, invalidRequest, join, readMessage, requireBytes } from './request';

const PUBLIC_KEY: FieldName = ['publicKey', 'public_key'];
const X509_CERTIFICATE: FieldName = ['x509Certificate', 'x509_certificate'];
const KEY_DETAILS: FieldName = ['keyDetails', 'key_details'];
const RAW_BYTES: FieldName = ['rawBytes', 'raw_bytes'];

export interface V2Verifier {
  readonly material: V2Material;
  readonly algorithm: V2Algorithm;
  /** Raw DER as sent (duplicate detection compares these, as rekor-tiles does). */
  readonly sentDer: Buffer;
}

export function readVerifier(value: unknown, path: string): V2Verifier {
  const v = readMessage(value, path, [PUBLIC_KEY, X509_CERTIFICATE, KEY_DETAILS]);
  const pk = get(v, PUBLIC_KEY, path);
  const cert = get(v, X509_CERTIFICATE, path);
  if (pk !== undefined && cert !== undefined)
    throw invalidRequest(`${path}: only one of publicKey and x509Certificate may be set`);
  if (pk === undefined && cert === undefined)
    throw invalidRequest(`${path}: missing signature public key or X.509 certificate`);
  const slot = pk !== undefined ? 'publicKey' : 'x509Certificate';
  const slotPath = join(path, slot);
  const holder = readMessage(pk ?? cert, slotPath, [RAW_BYTES]);
  const der = requireBytes(get(holder, RAW_BYTES, slotPath), join(slotPath, 'rawBytes'));
  // keyDetails is only a claim: it is judged against the parsed key, which decides (algorithms.ts).
  const declared = readKeyDetails(get(v, KEY_DETAILS, path), join(path, 'keyDetails'));
  const material = parseV2Verifier(slot, der, path);
  return { material, algorithm: effectiveAlgorithm(material.key, declared), sentDer: der };
}

/** The verifier as the stored body carries it (protobuf JSON of `Verifier`). */
export function verifierJson(v: V2Verifier): object {
  return {
    keyDetails: v.algorithm.keyDetails,
    [v.material.form]: { rawBytes: v.material.der.toString('base64') },
  };
}
