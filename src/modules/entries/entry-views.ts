import { Injectable } from '@nestjs/common';
import { isVellumError, VellumError } from '../../core/errors';
import { verifyInclusion } from '../../core/merkle/verify';
import { LogReader } from '../log/log-reader.service';
import type { SignedCheckpoint, StoredEntry } from '../log/log.types';
import { LogIdentity } from '../identity/log-identity';

/** The value under the EntryID key of a Rekor v1 `LogEntry` (Rekor v1 OpenAPI). */
export interface LogEntryValue {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification: {
    inclusionProof: {
      checkpoint: string;
      hashes: string[];
      logIndex: number;
      rootHash: string;
      treeSize: number;
    };
    signedEntryTimestamp: string;
  };
}

export type LogEntryMap = Record<string, LogEntryValue>;

const UUID_RE = /^([0-9a-fA-F]{64}|[0-9a-fA-F]{80})$/;
const INT64_MAX = (1n << 63n) - 1n;

/** What a 64- or 80-hex entry id asks for. */
export type UuidTarget =
  | { readonly kind: 'leaf'; readonly leafHash: Buffer }
  /** An 80-hex id naming another tree: a shard Vellum does not have. */
  | { readonly kind: 'other-tree' }
  /** The tree part does not parse as an int64. */
  | { readonly kind: 'invalid-tree' };

export function isUuid(s: unknown): s is string {
  return typeof s === 'string' && UUID_RE.test(s);
}

/**
 * Builds LogEntry responses. Every proof is made against one checkpoint read *after* the entries,
 * so an entry is never newer than the tree it is proven in.
 */
@Injectable()
export class EntryViews {
  /** The checkpoint the last answer was proven in, and its escaped note and root: a batch's answers share them. */
  private lastCheckpoint: SignedCheckpoint | undefined;
  private lastNoteJson = '';
  private lastRootHex = '';

  constructor(
    private readonly identity: LogIdentity,
    private readonly reader: LogReader,
  ) {}

  /** Caller has validated the pattern. A tree part of 0 means a bare leaf hash (Rekor does so). */
  parseUuid(uuid: string): UuidTarget {
    const id = uuid.toLowerCase();
    if (id.length === 64) return { kind: 'leaf', leafHash: Buffer.from(id, 'hex') };
    const tree = BigInt('0x' + id.slice(0, 16));
    if (tree > INT64_MAX) return { kind: 'invalid-tree' };
    if (tree !== 0n && id.slice(0, 16) !== this.identity.treeIdHex) return { kind: 'other-tree' };
    return { kind: 'leaf', leafHash: Buffer.from(id.slice(16), 'hex') };
  }

  value(e: StoredEntry, cp: SignedCheckpoint, proof: readonly Buffer[]): LogEntryValue {
    const hashes = new Array<string>(proof.length);
    for (let i = 0; i < proof.length; i++) hashes[i] = proof[i].toString('hex');
    return {
      body: e.body.toString('base64'),
      integratedTime: e.integratedTime,
      logID: this.identity.logIdHex,
      // One shard: the virtual index and the shard-local index coincide.
      logIndex: e.index,
      verification: {
        inclusionProof: {
          checkpoint: cp.note,
          hashes,
          logIndex: e.index,
          rootHash: cp.rootHash.toString('hex'),
          treeSize: cp.size,
        },
        signedEntryTimestamp: e.set.toString('base64'),
      },
    };
  }

  map(e: StoredEntry, cp: SignedCheckpoint, proof: readonly Buffer[]): LogEntryMap {
    return { [this.identity.entryId(e.leafHash)]: this.value(e, cp, proof) };
  }

  /**
   * `JSON.stringify(this.map(e, cp, proof))` and its entry id, written out directly: the answer
   * to every submission. Hex, base64 and integers never need escaping; the checkpoint note (the
   * one string that does) is escaped once per batch, since a batch's answers share its checkpoint.
   */
  mapJson(e: StoredEntry, cp: SignedCheckpoint, proof: readonly Buffer[]): { entryId: string; json: string } {
    const entryId = this.identity.entryId(e.leafHash);
    let hashes = '';
    for (let i = 0; i < proof.length; i++) hashes += (i === 0 ? '"' : ',"') + proof[i]!.toString('hex') + '"';
    if (this.lastCheckpoint !== cp) {
      this.lastCheckpoint = cp;
      this.lastNoteJson = JSON.stringify(cp.note);
      this.lastRootHex = cp.rootHash.toString('hex');
    }
    const json =
      `{"${entryId}":{"body":"${e.body.toString('base64')}","integratedTime":${e.integratedTime},` +
      `"logID":"${this.identity.logIdHex}","logIndex":${e.index},"verification":{"inclusionProof":{` +
      `"checkpoint":${this.lastNoteJson},"hashes":[${hashes}],"logIndex":${e.index},` +
      `"rootHash":"${this.lastRootHex}","treeSize":${cp.size}},` +
      `"signedEntryTimestamp":"${e.set.toString('base64')}"}}}`;
    return { entryId, json };
  }

  /** LogEntry maps for stored entries, proven against the latest checkpoint. */
  async withLatestProofs(entries: readonly StoredEntry[]): Promise<LogEntryMap[]> {
    if (entries.length === 0) return [];
    let maxIndex = 0;
    for (const e of entries) if (e.index > maxIndex) maxIndex = e.index;
    let cp = await this.reader.latestCheckpoint();
    if (maxIndex >= cp.size) {
      // The entry was stored by a batch whose checkpoint we have not seen yet: read it again.
      cp = await this.reader.latestCheckpoint();
      if (maxIndex >= cp.size) {
        throw new VellumError(
          'INTERNAL',
          `entry ${maxIndex} is not covered by the latest checkpoint (size ${cp.size})`,
        );
      }
    }
    const proofs = await this.reader.inclusionProofs(
      entries.map((e) => e.index),
      cp.size,
    );
    // Invariant 3: a proof leaves only after it was checked against the checkpoint it comes with.
    entries.forEach((e, i) => {
      try {
        verifyInclusion(e.leafHash, e.index, cp.size, proofs[i], cp.rootHash);
      } catch (err) {
        if (!isVellumError(err)) throw err;
        throw new VellumError(
          'INCONSISTENT_LOG',
          `inclusion proof of entry ${e.index} in size ${cp.size}: ${err.message}`,
        );
      }
    });
    return entries.map((e, i) => this.map(e, cp, proofs[i]));
  }
}
