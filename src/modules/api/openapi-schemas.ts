/**
 * OpenAPI component schemas of the Rekor v1 wire types, written out by hand from Rekor's
 * openapi.yaml (handlers validate in code; these only document). Controllers refer to them with
 * `ref(...)`; buildOpenApiDocument() adds them under components.schemas.
 */
import { REKOR_KINDS } from '../../core/entries';
import { TREE_ID_PATTERN } from './rekor-params';
import { HASH_PATTERN, PUBLIC_KEY_FORMATS } from './search-index-query';

type Schema = Record<string, unknown>;

export const UUID_PATTERN = '^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$';

export type SchemaName =
  | 'Error'
  | 'ProposedEntry'
  | 'InclusionProof'
  | 'LogEntryValue'
  | 'LogEntry'
  | 'SearchLogQuery'
  | 'LogInfo'
  | 'InactiveShardLogInfo'
  | 'ConsistencyProof'
  | 'SearchIndex';

/** Rekor's apiVersion pattern: a semantic version with optional pre-release and build parts. */
export const SEMVER_PATTERN =
  '^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-((?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]\\d*|\\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?$';

export function ref(name: SchemaName): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

/** Rekor's patterns accept either case; Vellum itself always writes lowercase. */
const hex64: Schema = { type: 'string', pattern: '^[0-9a-fA-F]{64}$' };

export const SCHEMAS = {
  Error: {
    type: 'object',
    properties: { code: { type: 'integer' }, message: { type: 'string' } },
  },
  ProposedEntry: {
    type: 'object',
    description: 'A proposed entry: hashedrekord 0.0.1, dsse 0.0.1 or intoto 0.0.2.',
    required: ['kind', 'apiVersion', 'spec'],
    properties: {
      kind: {
        type: 'string',
        enum: [...REKOR_KINDS],
      },
      apiVersion: { type: 'string', pattern: SEMVER_PATTERN },
      spec: { type: 'object', additionalProperties: true },
    },
  },
  InclusionProof: {
    type: 'object',
    required: ['logIndex', 'rootHash', 'treeSize', 'hashes', 'checkpoint'],
    properties: {
      logIndex: { type: 'integer', minimum: 0, description: 'index of the entry inside its shard' },
      rootHash: { ...hex64, description: 'root of the tree the proof is for, hex (lowercase from Vellum)' },
      treeSize: { type: 'integer', minimum: 1 },
      hashes: { type: 'array', items: hex64, description: 'audit path, leaf to root, hex' },
      checkpoint: {
        type: 'string',
        format: 'signedCheckpoint',
        description: 'signed note over (origin, treeSize, rootHash)',
      },
    },
  },
  LogEntryValue: {
    type: 'object',
    required: ['body', 'integratedTime', 'logID', 'logIndex'],
    properties: {
      body: { type: 'string', format: 'byte', description: 'canonical entry (the Merkle leaf), base64' },
      integratedTime: { type: 'integer', description: 'Unix seconds' },
      logID: { ...hex64, description: 'SHA-256 of the log key (DER SubjectPublicKeyInfo), hex' },
      logIndex: { type: 'integer', minimum: 0 },
      verification: {
        type: 'object',
        properties: {
          inclusionProof: ref('InclusionProof'),
          signedEntryTimestamp: {
            type: 'string',
            format: 'byte',
            description: 'log signature over JCS {body, integratedTime, logID, logIndex}, base64',
          },
        },
      },
    },
  },
  LogEntry: {
    type: 'object',
    description: 'A map with exactly one key, the 80-hex EntryID.',
    additionalProperties: ref('LogEntryValue'),
  },
  SearchLogQuery: {
    type: 'object',
    properties: {
      entryUUIDs: {
        type: 'array',
        minItems: 1,
        maxItems: 10,
        items: { type: 'string', pattern: UUID_PATTERN },
      },
      logIndexes: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'integer', minimum: 0 } },
      entries: { type: 'array', minItems: 1, maxItems: 10, items: ref('ProposedEntry') },
    },
  },
  LogInfo: {
    ...treeState('the latest checkpoint (signed note)'),
    properties: {
      ...treeState('the latest checkpoint (signed note)').properties,
      inactiveShards: { type: 'array', items: ref('InactiveShardLogInfo') },
    },
  },
  InactiveShardLogInfo: treeState('the last checkpoint of a frozen shard'),
  ConsistencyProof: {
    type: 'object',
    required: ['rootHash', 'hashes'],
    properties: {
      rootHash: { ...hex64, description: "the log's current root" },
      hashes: { type: 'array', items: hex64 },
    },
  },
  SearchIndex: {
    type: 'object',
    properties: {
      email: { type: 'string', format: 'email' },
      subject: { type: 'string', minLength: 1, maxLength: 512 },
      publicKey: {
        type: 'object',
        required: ['format'],
        properties: {
          format: { type: 'string', enum: [...PUBLIC_KEY_FORMATS] },
          content: { type: 'string', format: 'byte' },
        },
      },
      hash: { type: 'string', pattern: HASH_PATTERN },
      operator: { type: 'string', enum: ['and', 'or'] },
    },
  },
} satisfies Record<SchemaName, Schema>;

/**
 * The shape LogInfo and InactiveShardLogInfo share in Rekor. treeSize keeps minimum 0 where
 * Rekor declares 1: an empty log answers 0 (Rekor's does too), and a document that its own
 * answers violate would make validating clients refuse a fresh log.
 */
function treeState(sthDescription: string): Schema & { properties: Record<string, Schema> } {
  return {
    type: 'object',
    required: ['rootHash', 'treeSize', 'signedTreeHead', 'treeID'],
    properties: {
      rootHash: { ...hex64, description: 'root of the Merkle tree' },
      treeSize: { type: 'integer', minimum: 0, description: 'number of leaves in the Merkle tree' },
      signedTreeHead: { type: 'string', format: 'signedCheckpoint', description: sthDescription },
      treeID: { type: 'string', pattern: TREE_ID_PATTERN, description: 'decimal' },
    },
  };
}

export const errorResponse = { description: 'error', schema: ref('Error') } as const;
