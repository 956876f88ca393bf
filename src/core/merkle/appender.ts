/**
 * Appends leaf hashes to a tiled RFC 6962 tree.
 *
 * The appender holds the rightmost tile of every tile level in a working buffer laid out as a full
 * tile (sublevel r at FULL_OFFSETS[r]), so positions never move while the tile fills. Adding a hash
 * at sublevel 0 completes exactly those parents whose subtree it closes, each hashed straight into
 * its slot: about one node hash per leaf. When a tile fills, its height-8 root is hashed into the
 * next level's working tile, the buffer is handed out as the stored full tile (for width 256 the two
 * layouts coincide) and a fresh one takes its place. The frontier (compact range) is thus the set of
 * working tiles, and resuming needs only the right-edge tiles.
 */
import { VellumError } from '../errors';
import { TILE_HEIGHT, TILE_WIDTH, tilesForSize } from '../tiles/tiles';
import { EMPTY_ROOT, HASH_SIZE, nodeHashInto, nodePairHashInto } from './hash';
import { checkStoredTile, nodeOffset, tileNodeCount, type StoredTile, type TileSource } from './tile-store';

export interface AppendResult {
  readonly size: number;
  readonly root: Buffer;
  /** Every tile this append changed (filled or widened), each with its complete current content. */
  readonly tiles: StoredTile[];
}

/** Start of each sublevel in a full tile, in hashes: 0, 256, 384, ..., 508. */
const FULL_OFFSETS: readonly number[] = Array.from({ length: TILE_HEIGHT }, (_, r) =>
  nodeOffset(TILE_WIDTH, r),
);
const FULL_TILE_BYTES = tileNodeCount(TILE_WIDTH) * HASH_SIZE;

interface WorkingTile {
  index: number;
  /** Hashes at sublevel 0 so far, 0..255 between appends. */
  width: number;
  /** Full-tile layout; only slots of complete nodes are meaningful. */
  buffer: Buffer;
}

export class MerkleAppender {
  private treeSize: number;
  private readonly working: WorkingTile[];
  private cachedRoot: Buffer | undefined;
  /** Full tiles completed during the current append() call. */
  private completed: StoredTile[] = [];

  private constructor(size: number, working: WorkingTile[]) {
    this.treeSize = size;
    this.working = working;
  }

  static empty(): MerkleAppender {
    return new MerkleAppender(0, []);
  }

  /**
   * Rebuilds the frontier of a tree of `size` leaves from the right-edge tiles, read in one batch.
   * A stored tile wider than the size implies is accepted (its prefix is used); a missing or
   * narrower one is INVALID_TILE.
   */
  static async resume(size: number, source: TileSource): Promise<MerkleAppender> {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new VellumError('INVALID_ARGUMENT', `tree size must be a non-negative safe integer, got ${size}`);
    }
    const partials = tilesForSize(size);
    const stored = partials.length === 0 ? [] : await source.readTiles(partials);
    const working: WorkingTile[] = [];
    let hashesAtLevel = size;
    for (let level = 0; hashesAtLevel > 0; level++) {
      const index = Math.floor(hashesAtLevel / TILE_WIDTH);
      working.push(newWorkingTile(index));
      hashesAtLevel = index;
    }
    partials.forEach((partial, i) => {
      const tile = checkStoredTile(stored[i], partial, partial.width);
      const target = working[partial.level];
      for (let r = 0; r < TILE_HEIGHT; r++) {
        const count = Math.floor(partial.width / Math.pow(2, r));
        const from = nodeOffset(tile.width, r) * HASH_SIZE;
        tile.nodes.copy(target.buffer, FULL_OFFSETS[r] * HASH_SIZE, from, from + count * HASH_SIZE);
      }
      target.width = partial.width;
    });
    return new MerkleAppender(size, working);
  }

  get size(): number {
    return this.treeSize;
  }

  /** MTH of the whole tree; EMPTY_ROOT at size 0. */
  root(): Buffer {
    if (this.cachedRoot === undefined) this.cachedRoot = this.computeRoot();
    return this.cachedRoot;
  }

  append(leafHashes: readonly Uint8Array[]): AppendResult {
    if (leafHashes.length === 0) return { size: this.treeSize, root: this.root(), tiles: [] };
    if (this.treeSize + leafHashes.length > Number.MAX_SAFE_INTEGER) {
      throw new VellumError('INVALID_ARGUMENT', 'tree size would exceed 2^53 - 1');
    }
    for (const hash of leafHashes) {
      if (hash.length !== HASH_SIZE) {
        throw new VellumError(
          'INVALID_ARGUMENT',
          `leaf hashes must be ${HASH_SIZE} bytes, got ${hash.length}`,
        );
      }
    }
    if (this.working.length === 0) this.working.push(newWorkingTile(0));
    const before = this.working.map((w) => w.index * TILE_WIDTH + w.width);

    const bottom = this.working[0];
    for (const hash of leafHashes) {
      bottom.buffer.set(hash, bottom.width * HASH_SIZE);
      this.commitHash(0);
    }
    this.treeSize += leafHashes.length;
    this.cachedRoot = undefined;

    const tiles = this.completed;
    this.completed = [];
    this.working.forEach((w, level) => {
      const changed = level >= before.length || w.index * TILE_WIDTH + w.width !== before[level];
      if (changed && w.width > 0) tiles.push(compactTile(level, w));
    });
    tiles.sort((a, b) => a.level - b.level || a.index - b.index);
    return { size: this.treeSize, root: this.root(), tiles };
  }

  /**
   * Accounts for the hash just written at sublevel-0 slot `width` of the working tile at `level`:
   * hashes every parent it completes, and when the tile fills, hands it out and carries its root
   * into the level above.
   */
  private commitHash(level: number): void {
    const tile = this.working[level];
    const buffer = tile.buffer;
    const width = tile.width + 1;
    let span = width;
    for (let r = 0; r < TILE_HEIGHT - 1 && span % 2 === 0; r++) {
      const children = (FULL_OFFSETS[r] + span - 2) * HASH_SIZE;
      span = span / 2;
      nodeHashInto(buffer, children, buffer, (FULL_OFFSETS[r + 1] + span - 1) * HASH_SIZE);
    }
    if (width < TILE_WIDTH) {
      tile.width = width;
      return;
    }
    if (this.working.length === level + 1) this.working.push(newWorkingTile(0));
    const above = this.working[level + 1];
    nodeHashInto(buffer, FULL_OFFSETS[TILE_HEIGHT - 1] * HASH_SIZE, above.buffer, above.width * HASH_SIZE);
    this.completed.push({ level, index: tile.index, width: TILE_WIDTH, nodes: buffer });
    tile.index += 1;
    tile.width = 0;
    tile.buffer = Buffer.allocUnsafe(FULL_TILE_BYTES);
    this.commitHash(level + 1);
  }

  /** Folds the frontier's perfect subtrees, smallest (rightmost) first. */
  private computeRoot(): Buffer {
    if (this.treeSize === 0) return Buffer.from(EMPTY_ROOT);
    const root = Buffer.allocUnsafe(HASH_SIZE);
    let haveAccumulator = false;
    for (const tile of this.working) {
      for (let r = 0; r < TILE_HEIGHT; r++) {
        const count = Math.floor(tile.width / Math.pow(2, r));
        if (count % 2 === 0) continue;
        const node = (FULL_OFFSETS[r] + count - 1) * HASH_SIZE;
        if (haveAccumulator) {
          nodePairHashInto(tile.buffer, node, root, 0, root, 0);
        } else {
          tile.buffer.copy(root, 0, node, node + HASH_SIZE);
          haveAccumulator = true;
        }
      }
    }
    return root;
  }
}

function newWorkingTile(index: number): WorkingTile {
  return { index, width: 0, buffer: Buffer.allocUnsafe(FULL_TILE_BYTES) };
}

/** Copies a working tile into the stored layout for its current width. */
function compactTile(level: number, tile: WorkingTile): StoredTile {
  const nodes = Buffer.allocUnsafe(tileNodeCount(tile.width) * HASH_SIZE);
  for (let r = 0; r < TILE_HEIGHT; r++) {
    const count = Math.floor(tile.width / Math.pow(2, r));
    const from = FULL_OFFSETS[r] * HASH_SIZE;
    tile.buffer.copy(nodes, nodeOffset(tile.width, r) * HASH_SIZE, from, from + count * HASH_SIZE);
  }
  return { level, index: tile.index, width: tile.width, nodes };
}
