/**
 * OpenAPI schemas of the Rekor v2 write API (rekor-tiles `api/proto/rekor/v2`, protobuf-specs
 * `sigstore_rekor.proto`), inline in the v2 routes. Documentation only: the parser in
 * core/entries/v2 is what validates.
 */
type Schema = Record<string, unknown>;

const bytes: Schema = { type: 'string', format: 'byte' };
const verifier: Schema = {
  type: 'object',
  description: 'exactly one of publicKey (DER SPKI) and x509Certificate (DER certificate)',
  properties: {
    publicKey: { type: 'object', properties: { rawBytes: bytes } },
    x509Certificate: { type: 'object', properties: { rawBytes: bytes } },
    keyDetails: { type: 'string', description: 'protobuf-specs PublicKeyDetails name' },
  },
};

export const CREATE_ENTRY_REQUEST: Schema = {
  type: 'object',
  description: 'Exactly one of hashedRekordRequestV002 and dsseRequestV002; unknown fields are refused.',
  properties: {
    hashedRekordRequestV002: {
      type: 'object',
      required: ['digest', 'signature'],
      properties: {
        digest: bytes,
        signature: { type: 'object', properties: { content: bytes, verifier } },
      },
    },
    dsseRequestV002: {
      type: 'object',
      required: ['envelope', 'verifiers'],
      properties: {
        envelope: {
          type: 'object',
          properties: {
            payload: bytes,
            payloadType: { type: 'string' },
            signatures: {
              type: 'array',
              maxItems: 10,
              items: { type: 'object', properties: { sig: bytes, keyid: { type: 'string' } } },
            },
          },
        },
        verifiers: { type: 'array', maxItems: 10, items: verifier },
      },
    },
  },
};

export const TRANSPARENCY_LOG_ENTRY: Schema = {
  type: 'object',
  properties: {
    logIndex: { type: 'string', pattern: '^[0-9]+$' },
    logId: { type: 'object', properties: { keyId: bytes } },
    kindVersion: { type: 'object', properties: { kind: { type: 'string' }, version: { type: 'string' } } },
    integratedTime: { type: 'string', description: 'always "0": v2 has no SET' },
    inclusionPromise: { type: 'object', nullable: true },
    inclusionProof: {
      type: 'object',
      properties: {
        logIndex: { type: 'string' },
        rootHash: bytes,
        treeSize: { type: 'string' },
        hashes: { type: 'array', items: bytes },
        checkpoint: { type: 'object', properties: { envelope: { type: 'string' } } },
      },
    },
    canonicalizedBody: bytes,
  },
};

export const V2_ERROR: Schema = {
  type: 'object',
  description: 'grpc-gateway error: code is the gRPC status code',
  properties: {
    code: { type: 'integer' },
    message: { type: 'string' },
    details: { type: 'array', items: { type: 'object' } },
  },
};
