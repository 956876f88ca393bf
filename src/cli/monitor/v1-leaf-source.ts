/**
 * A LeafSource over the Rekor v1 read API: `GET /api/v1/log` (LogInfo with the signed tree head),
 * `GET /api/v1/log/proof` (consistency), `POST /api/v1/log/entries/retrieve` (entries, 10 indexes
 * per request, `concurrency` requests in flight). Every field comes from the log, so every field
 * is checked for shape here; what it means is checked by the follower.
 */
import { decodeBase64Strict } from '../../core/encoding';
import { VellumError } from '../../core/errors';
import { CompactRange } from '../../core/follower/compact-range';
import type { LeafSource, SourceCheckpoint, SourceLeaf } from '../../core/follower/log-follower';
import type { Checkpoint } from '../../core/checkpoint';
import { leafHash } from '../../core/merkle/hash';
import { verifyInclusion } from '../../core/merkle/verify';
import type { HttpClient } from '../../net/http-client';

const ENTRIES_PER_REQUEST = 10;
const HEX64 = /^[0-9a-f]{64}$/;
const UUID = /^([0-9a-f]{64}|[0-9a-f]{80})$/;

/** A Rekor LogEntry value as served (fields checked where they are used). */
export type RekorEntryValue = Record<string, any>;

export interface V1Extra {
  readonly uuid: string;
  readonly integratedTime: number;
  readonly value: RekorEntryValue;
}

export interface LogInfo {
  readonly rootHash: string;
  readonly treeSize: number;
  readonly treeID: string;
  readonly signedTreeHead: string;
  readonly inactiveShards?: Array<{ treeSize: number }> | null;
}

function bad(message: string): never {
  throw new VellumError('INVALID_ARGUMENT', message);
}

function inconsistent(message: string, details?: Record<string, unknown>): never {
  throw new VellumError('INCONSISTENT_LOG', message, details);
}

function hexHashes(v: unknown, what: string): Buffer[] {
  if (!Array.isArray(v) || v.some((h) => typeof h !== 'string' || !HEX64.test(h)))
    bad(`${what}: not a list of 64 hex digit hashes`);
  return (v as string[]).map((h) => Buffer.from(h, 'hex'));
}

export class V1LeafSource implements LeafSource<V1Extra> {
  /** The LogInfo of the last latestCheckpoint(). */
  info: LogInfo | undefined;
  /** Virtual index of this tree's leaf 0 (sum of inactive shard sizes). */
  offset = 0;

  constructor(
    private readonly http: HttpClient,
    private readonly concurrency: number,
  ) {}

  async latestCheckpoint(): Promise<SourceCheckpoint> {
    const info = (await this.http.json('GET', '/api/v1/log')) as LogInfo;
    if (
      typeof info !== 'object' ||
      info === null ||
      typeof info.signedTreeHead !== 'string' ||
      !Number.isSafeInteger(info.treeSize) ||
      typeof info.rootHash !== 'string' ||
      !HEX64.test(info.rootHash) ||
      typeof info.treeID !== 'string'
    )
      bad('GET /api/v1/log: not a LogInfo');
    this.info = info;
    this.offset = (info.inactiveShards ?? []).reduce(
      (a, s) => a + (Number.isSafeInteger(s?.treeSize) ? s.treeSize : 0),
      0,
    );
    return {
      note: info.signedTreeHead,
      claimed: { size: info.treeSize, rootHash: Buffer.from(info.rootHash, 'hex') },
    };
  }

  async consistencyProof(size1: number, size2: number): Promise<Uint8Array[]> {
    const tree = this.info === undefined ? '' : `&treeID=${encodeURIComponent(this.info.treeID)}`;
    const p = (await this.http.json(
      'GET',
      `/api/v1/log/proof?firstSize=${size1}&lastSize=${size2}${tree}`,
    )) as {
      hashes?: unknown;
    };
    return hexHashes(p?.hashes, 'GET /api/v1/log/proof');
  }

  async *leaves(from: number, to: number): AsyncGenerator<Array<SourceLeaf<V1Extra>>> {
    const chunks: number[][] = [];
    for (let i = from; i < to; i += ENTRIES_PER_REQUEST)
      chunks.push(Array.from({ length: Math.min(ENTRIES_PER_REQUEST, to - i) }, (_, k) => i + k));
    const inFlight = new Map<number, Promise<Map<number, SourceLeaf<V1Extra>>>>();
    let next = 0;
    for (let c = 0; c < chunks.length; c++) {
      while (next < chunks.length && next < c + this.concurrency) {
        const p = this.chunkComplete(chunks[next]!);
        p.catch(() => undefined); // awaited in order below
        inFlight.set(next++, p);
      }
      const got = await inFlight.get(c)!;
      inFlight.delete(c);
      yield chunks[c]!.map((i) => got.get(i)!);
    }
  }

  /**
   * The compact range of the whole tree of `cp` from the last leaf's inclusion proof, verified
   * against `cp`'s root (a baseline that skips history).
   */
  async compactRangeAt(cp: Checkpoint): Promise<CompactRange> {
    if (cp.size === 0) return CompactRange.empty();
    const e = (await this.chunk([cp.size - 1])).get(cp.size - 1);
    if (e === undefined) bad(`the log did not serve its last entry ${cp.size - 1}`);
    const ip = e.extra!.value.verification?.inclusionProof;
    if (ip?.treeSize !== cp.size) bad('the log grew while taking the baseline; run again');
    const proof = hexHashes(ip.hashes ?? [], 'inclusion proof');
    const leaf = leafHash(e.body);
    if (!leaf.equals(e.leafHash!)) inconsistent(`leaf hash mismatch at index ${cp.size - 1}`);
    try {
      verifyInclusion(leaf, cp.size - 1, cp.size, proof, cp.rootHash);
    } catch (err) {
      inconsistent(`inclusion proof of the last entry does not verify: ${(err as Error).message}`);
    }
    return CompactRange.fromLastLeafProof(cp.size, leaf, proof);
  }

  /** A chunk with every index present (two retries for entries a lagging replica lacks yet). */
  private async chunkComplete(indexes: readonly number[]): Promise<Map<number, SourceLeaf<V1Extra>>> {
    const got = await this.chunk(indexes);
    let missing = indexes.filter((i) => !got.has(i));
    for (let attempt = 0; missing.length > 0 && attempt < 2; attempt++) {
      await new Promise((r) => setTimeout(r, 250));
      for (const [k, v] of await this.chunk(missing)) got.set(k, v);
      missing = indexes.filter((i) => !got.has(i));
    }
    if (missing.length > 0)
      throw new VellumError(
        'UNAVAILABLE',
        `the log did not serve entries ${missing.join(', ')} below its signed size`,
      );
    return got;
  }

  private async chunk(indexes: readonly number[]): Promise<Map<number, SourceLeaf<V1Extra>>> {
    const res = await this.http.json('POST', '/api/v1/log/entries/retrieve', {
      logIndexes: indexes.map((i) => this.offset + i),
    });
    if (!Array.isArray(res)) bad('POST /api/v1/log/entries/retrieve: not a list');
    const wanted = new Set(indexes);
    const out = new Map<number, SourceLeaf<V1Extra>>();
    for (const item of res) {
      if (typeof item !== 'object' || item === null) bad('retrieve: an item is not a LogEntry');
      const keys = Object.keys(item);
      if (keys.length !== 1) bad('retrieve: a LogEntry must have exactly one key');
      const uuid = keys[0]!.toLowerCase();
      const v = (item as Record<string, RekorEntryValue>)[keys[0]!];
      if (!UUID.test(uuid)) bad(`retrieve: ${keys[0]} is not an entry UUID`);
      if (typeof v !== 'object' || v === null || !Number.isSafeInteger(v.logIndex))
        bad(`retrieve: entry ${uuid} has no logIndex`);
      const index = (v.logIndex as number) - this.offset;
      if (!wanted.has(index)) continue;
      if (out.has(index)) inconsistent(`the log served two different entries for index ${index}`);
      let body: Buffer;
      try {
        body = decodeBase64Strict(String(v.body), 'body');
      } catch (e) {
        inconsistent(`entry ${index}: body is not base64: ${(e as Error).message}`, {
          logIndex: index,
          uuid,
        });
      }
      out.set(index, {
        index,
        body,
        leafHash: Buffer.from(uuid.slice(-64), 'hex'),
        extra: { uuid, integratedTime: Number(v.integratedTime), value: v },
      });
    }
    return out;
  }
}
