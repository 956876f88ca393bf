/**
 * RFC 3161 time-stamp requests: the DER `application/timestamp-query` (TimeStampReq, RFC 3161
 * section 2.4.1) and the JSON request Sigstore clients send (sigstore timestamp-authority's
 * `/api/v1/timestamp` JSON body: artifactHash, hashAlgorithm, nonce, certificates, tsaPolicyOID).
 * Both become one TimestampQuery. The bytes are attacker input: they must be one strict DER
 * element (core/asn1) before the TSP schema (@peculiar/asn1-tsp) maps them, and the mapped
 * request must re-encode to exactly the bytes received, so no second, laxer reading exists.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { TimeStampReq } from '@peculiar/asn1-tsp';

import { checkDerValue, readTlv, TAG } from '../asn1';
import { VellumError } from '../errors';

/** The message-imprint hash algorithms this TSA accepts: OID, name, digest length. */
export const TSP_HASH_ALGORITHMS = [
  { oid: '2.16.840.1.101.3.4.2.1', name: 'sha256', length: 32 },
  { oid: '2.16.840.1.101.3.4.2.2', name: 'sha384', length: 48 },
  { oid: '2.16.840.1.101.3.4.2.3', name: 'sha512', length: 64 },
] as const;

export type TspHashName = (typeof TSP_HASH_ALGORITHMS)[number]['name'];

/** A TimeStampReq is a few hundred bytes; anything much larger is not one. */
export const MAX_TIMESTAMP_QUERY_BYTES = 4096;

export interface TimestampQuery {
  readonly hashAlgorithm: (typeof TSP_HASH_ALGORITHMS)[number];
  readonly digest: Buffer;
  /** The INTEGER contents octets, echoed byte for byte in TSTInfo. */
  readonly nonce?: Buffer;
  readonly certReq: boolean;
  readonly reqPolicy?: string;
}

const bad = (message: string): VellumError => new VellumError('INVALID_ARGUMENT', message);

function hashByOid(oid: string): (typeof TSP_HASH_ALGORITHMS)[number] {
  const alg = TSP_HASH_ALGORITHMS.find((a) => a.oid === oid);
  if (alg === undefined) throw bad(`unsupported hash algorithm ${oid} (accepted: sha256, sha384, sha512)`);
  return alg;
}

function checkDigest(alg: (typeof TSP_HASH_ALGORITHMS)[number], digest: Buffer): void {
  if (digest.length !== alg.length)
    throw bad(`hashedMessage is ${digest.length} bytes; ${alg.name} digests are ${alg.length}`);
}

/** Parses a DER TimeStampReq; throws INVALID_DER or INVALID_ARGUMENT (both 400) for anything else. */
export function parseTimestampQueryDer(der: Uint8Array): TimestampQuery {
  if (der.length > MAX_TIMESTAMP_QUERY_BYTES)
    throw new VellumError('TOO_LARGE', `timestamp query over ${MAX_TIMESTAMP_QUERY_BYTES} bytes`);
  const top = readTlv(der, 0);
  if (top.end !== der.length) throw new VellumError('INVALID_DER', 'timestamp query: trailing data');
  if (top.tag !== TAG.SEQUENCE) throw new VellumError('INVALID_DER', 'timestamp query: not a SEQUENCE');
  checkDerValue(der, top);
  let req: TimeStampReq;
  try {
    req = AsnConvert.parse(Buffer.from(der), TimeStampReq);
  } catch (e) {
    throw new VellumError('INVALID_DER', `timestamp query is not a TimeStampReq: ${(e as Error).message}`);
  }
  let again: Buffer;
  try {
    again = Buffer.from(AsnConvert.serialize(req));
  } catch {
    throw new VellumError('INVALID_DER', 'timestamp query does not re-encode');
  }
  if (!again.equals(der)) throw new VellumError('INVALID_DER', 'timestamp query is not in DER form');
  if (req.version !== 1) throw bad(`TimeStampReq version ${String(req.version)}; only v1 exists`);
  if (req.extensions !== undefined && req.extensions.length > 0)
    throw bad('TimeStampReq extensions are not supported');
  const algId = req.messageImprint.hashAlgorithm;
  const hashAlgorithm = hashByOid(algId.algorithm);
  // RFC 5754 section 2: SHA-2 AlgorithmIdentifiers carry absent or NULL parameters.
  if (algId.parameters != null && !Buffer.from(algId.parameters).equals(Buffer.from([TAG.NULL, 0])))
    throw bad('hash AlgorithmIdentifier parameters must be absent or NULL');
  const digest = Buffer.from(req.messageImprint.hashedMessage.buffer);
  checkDigest(hashAlgorithm, digest);
  const nonce = req.nonce === undefined ? undefined : Buffer.from(req.nonce);
  if (nonce !== undefined && (nonce[0]! & 0x80) !== 0) throw bad('nonce must be a positive INTEGER');
  return {
    hashAlgorithm,
    digest,
    certReq: req.certReq,
    ...(nonce === undefined ? {} : { nonce }),
    ...(req.reqPolicy === undefined ? {} : { reqPolicy: req.reqPolicy }),
  };
}

const JSON_FIELDS = new Set(['artifactHash', 'hashAlgorithm', 'nonce', 'certificates', 'tsaPolicyOID']);
const OID_PATTERN = /^[0-2](\.(0|[1-9][0-9]{0,17})){1,30}$/;

/** Minimal big-endian two's-complement contents of a non-negative integer, as DER INTEGER holds it. */
export function unsignedIntegerBytes(n: bigint): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  return (bytes[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

/**
 * The JSON request of sigstore's timestamp-authority, as @sigstore/sign's TSAWitness sends it:
 * `{"artifactHash": base64 digest, "hashAlgorithm": "sha256"}`, optionally `nonce` (a
 * non-negative integer), `certificates` (boolean: include the signing certificate) and
 * `tsaPolicyOID`.
 */
export function parseTimestampQueryJson(body: unknown): TimestampQuery {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new VellumError('SCHEMA_VIOLATION', 'timestamp request must be a JSON object');
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!JSON_FIELDS.has(k)) throw new VellumError('SCHEMA_VIOLATION', `unknown field ${JSON.stringify(k)}`);
  if (typeof o.artifactHash !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(o.artifactHash))
    throw new VellumError('SCHEMA_VIOLATION', 'artifactHash must be a base64 string');
  if (typeof o.hashAlgorithm !== 'string')
    throw new VellumError('SCHEMA_VIOLATION', 'hashAlgorithm must be a string');
  const hashAlgorithm = TSP_HASH_ALGORITHMS.find((a) => a.name === o.hashAlgorithm);
  if (hashAlgorithm === undefined)
    throw bad(
      `unsupported hash algorithm ${JSON.stringify(o.hashAlgorithm)} (accepted: sha256, sha384, sha512)`,
    );
  const digest = Buffer.from(o.artifactHash, 'base64');
  if (digest.toString('base64') !== o.artifactHash) throw bad('artifactHash is not canonical base64');
  checkDigest(hashAlgorithm, digest);
  let nonce: Buffer | undefined;
  if (o.nonce !== undefined) {
    if (typeof o.nonce !== 'number' || !Number.isSafeInteger(o.nonce) || o.nonce < 0)
      throw new VellumError('SCHEMA_VIOLATION', 'nonce must be a non-negative integer');
    nonce = unsignedIntegerBytes(BigInt(o.nonce));
  }
  if (o.certificates !== undefined && typeof o.certificates !== 'boolean')
    throw new VellumError('SCHEMA_VIOLATION', 'certificates must be a boolean');
  if (
    o.tsaPolicyOID !== undefined &&
    (typeof o.tsaPolicyOID !== 'string' || !OID_PATTERN.test(o.tsaPolicyOID))
  )
    throw new VellumError('SCHEMA_VIOLATION', 'tsaPolicyOID must be a dotted OID');
  return {
    hashAlgorithm,
    digest,
    certReq: o.certificates === true,
    ...(nonce === undefined ? {} : { nonce }),
    ...(o.tsaPolicyOID === undefined ? {} : { reqPolicy: o.tsaPolicyOID as string }),
  };
}
