import { Injectable, Logger } from '@nestjs/common';
import { isVellumError, VellumError } from '../../core/errors';
import { HASH_SIZE } from '../../core/merkle/hash';
import { consistencyProof, inclusionProof, rootAt } from '../../core/merkle/proofs';
import { verifyConsistency } from '../../core/merkle/verify';
import { tileData } from '../../core/merkle/tile-store';
import { TILE_WIDTH } from '../../core/tiles/tiles';
import { VellumDatabase } from '../storage/database';
import { DbTileSource, MemoTileSource } from '../storage/db-tile-source';
import {
  ENTRY_COLUMNS,
  type QueryFn,
  checkpointRootsAt,
  entryFromRow,
  latestCheckpoint,
  searchIndex,
  entryBodiesInRange,
  entriesInRange,
  findStoredEntries,
} from '../storage/log-queries';
import type { SignedCheckpoint, StoredEntry } from './log.types';

const MAX_TILE_LEVEL = 63;

function requireIndex(name: string, v: number, min = 0): void {
  if (!Number.isSafeInteger(v) || v < min) {
    throw new VellumError('INVALID_ARGUMENT', `${name} must be an integer >= ${min}, got ${String(v)}`);
  }
}

/**
 * Reads of the committed log, for the API. Needs only the database (no key, no lease), so any
 * number of API replicas can run it. Proofs come from stored tiles through an LRU of full tiles
 * (immutable); partial right-edge tiles are always read fresh.
 */
@Injectable()
export class LogReader {
  private readonly logger = new Logger('log-reader');
  private readonly tiles: DbTileSource;
  private readonly q: QueryFn;
  /** Largest committed tree size seen; the log only grows, so this only grows. */
  private knownSize = 0;

  constructor(private readonly db: VellumDatabase) {
    this.tiles = new DbTileSource(db, { capacity: 4096, cachePartial: false });
    this.q = (sql, params) => db.read(sql, params);
  }

  /** A read of committed data (for lookups the methods here do not cover). */
  readQuery<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.db.read<T>(sql, params);
  }

  /** Committed canonical bodies of entries first.., stopping at the first gap. */
  entryBodies(first: number, count: number): Promise<Buffer[]> {
    return entryBodiesInRange(this.q, first, count);
  }

  /** Committed entries at the given indices that exist, in index order. */
  async entriesAt(indices: readonly number[]): Promise<StoredEntry[]> {
    return (await findStoredEntries(this.q, indices)).sort((a, b) => a.index - b.index);
  }

  /** Committed entries [from, to) in index order (fewer where some are missing), checked bounds. */
  entries(from: number, to: number): Promise<StoredEntry[]> {
    requireIndex('from', from);
    requireIndex('to', to);
    return entriesInRange(this.q, from, to);
  }

  /** The largest checkpoint committed (size 0 after first boot). UNAVAILABLE before any. */
  async latestCheckpoint(): Promise<SignedCheckpoint> {
    const cp = await latestCheckpoint(this.q);
    if (cp === undefined)
      throw new VellumError('UNAVAILABLE', 'the log has no checkpoint yet (the sequencer has not started)');
    if (cp.size > this.knownSize) this.knownSize = cp.size;
    return cp;
  }

  async getByIndex(index: number): Promise<StoredEntry | null> {
    requireIndex('index', index);
    const rows = await this.q(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE idx = ?`, [index]);
    return rows.length === 0 ? null : entryFromRow(rows[0]!);
  }

  async getByLeafHash(leafHash: Buffer): Promise<StoredEntry | null> {
    if (!Buffer.isBuffer(leafHash) || leafHash.length !== HASH_SIZE) {
      throw new VellumError('INVALID_ARGUMENT', `leaf hash must be ${HASH_SIZE} bytes`);
    }
    const rows = await this.q(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE leaf_hash = ?`, [leafHash]);
    return rows.length === 0 ? null : entryFromRow(rows[0]!);
  }

  /** Inclusion proof of `index` in the tree of `treeSize` (any committed size), leaf to root. */
  async inclusionProof(index: number, treeSize: number): Promise<Buffer[]> {
    requireIndex('index', index);
    requireIndex('tree size', treeSize, 1);
    if (index >= treeSize) {
      throw new VellumError('INVALID_ARGUMENT', `index ${index} is not below tree size ${treeSize}`);
    }
    await this.requireCommitted(treeSize);
    return inclusionProof(this.tiles, index, treeSize);
  }

  /**
   * Inclusion proofs of many indices in the tree of one committed `treeSize` (a batch's answers):
   * the tiles they share, the right edge included, are read once.
   */
  async inclusionProofs(indices: readonly number[], treeSize: number): Promise<Buffer[][]> {
    requireIndex('tree size', treeSize, 1);
    for (const i of indices) {
      requireIndex('index', i);
      if (i >= treeSize)
        throw new VellumError('INVALID_ARGUMENT', `index ${i} is not below tree size ${treeSize}`);
    }
    await this.requireCommitted(treeSize);
    const tiles = new MemoTileSource(this.tiles);
    const out: Buffer[][] = [];
    for (const i of indices) out.push(await inclusionProof(tiles, i, treeSize));
    return out;
  }

  /**
   * Records that a checkpoint of `size` is known to be committed (its signed note was verified
   * by the caller), sparing the database read requireCommitted would make.
   */
  noteCommittedSize(size: number): void {
    if (Number.isSafeInteger(size) && size > this.knownSize) this.knownSize = size;
  }

  /** Consistency proof from size1 to size2 (committed sizes, size1 <= size2). */
  async consistencyProof(size1: number, size2: number): Promise<Buffer[]> {
    requireIndex('first size', size1);
    requireIndex('second size', size2);
    if (size1 > size2) {
      throw new VellumError('INVALID_ARGUMENT', `first size ${size1} is greater than second size ${size2}`);
    }
    await this.requireCommitted(size2);
    const tiles = new MemoTileSource(this.tiles);
    const proof = await consistencyProof(tiles, size1, size2);
    if (size1 > 0 && size1 < size2) await this.checkConsistency(tiles, size1, size2, proof);
    return proof;
  }

  /**
   * Invariant 3 for consistency proofs: a proof leaves only after it verified. Each end is checked
   * against the root the log signed at that size when a checkpoint of that size was committed
   * (always so for the latest size, the usual second size), else against the root the same tiles
   * give, which still catches tiles that disagree with each other. A proof that fails is the
   * log's own data failing its own check: INCONSISTENT_LOG (a 500), logged, never served.
   */
  private async checkConsistency(
    tiles: MemoTileSource,
    size1: number,
    size2: number,
    proof: readonly Buffer[],
  ): Promise<void> {
    const signed = await checkpointRootsAt(this.q, [size1, size2]);
    const root1 = signed.get(size1) ?? (await rootAt(tiles, size1));
    const root2 = signed.get(size2) ?? (await rootAt(tiles, size2));
    try {
      verifyConsistency(size1, size2, proof, root1, root2);
    } catch (err) {
      if (!isVellumError(err, 'INVALID_PROOF')) throw err;
      const message = `consistency proof from size ${size1} to ${size2} does not verify: ${err.message}`;
      this.logger.error(`${message}; stored tiles disagree with the signed checkpoints`);
      throw new VellumError('INCONSISTENT_LOG', message);
    }
  }

  /** Leaf hashes of entries with any ('or') or all ('and') of the given (lowercased) index keys. */
  search(keys: readonly string[], operator: 'and' | 'or'): Promise<Buffer[]> {
    return searchIndex(this.q, keys, operator);
  }

  /**
   * C2SP tile bytes at `width` (1..256; 256 = full tile) if the tree has had that tile, else null.
   * Stored tiles only grow, and a narrower version is a prefix of a wider one.
   */
  async getTile(level: number, index: number, width: number): Promise<Buffer | null> {
    if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) {
      throw new VellumError('INVALID_ARGUMENT', `tile level must be 0..${MAX_TILE_LEVEL}`);
    }
    requireIndex('tile index', index);
    if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
      throw new VellumError('INVALID_ARGUMENT', `tile width must be 1..${TILE_WIDTH}`);
    }
    const [tile] = await this.tiles.readTiles([{ level, index }]);
    if (tile === undefined || tile.width < width) return null;
    return Buffer.from(tileData(tile, width));
  }

  private async requireCommitted(size: number): Promise<void> {
    if (size <= this.knownSize) return;
    const latest = await this.latestCheckpoint();
    if (size > latest.size) {
      throw new VellumError('INVALID_ARGUMENT', `tree size ${size} is larger than the log (${latest.size})`);
    }
  }
}
