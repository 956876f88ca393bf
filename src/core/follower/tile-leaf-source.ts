/**
 * A LeafSource over the C2SP tlog-tiles read API (checkpoint, hash tiles, entry bundles), with the
 * fetching injected: consistency proofs are planned and folded by the core's RFC 6962 proof code
 * from the hash tiles, leaves come from entry bundles. Nothing a tile server sends is trusted:
 * a wrong hash tile only makes a proof fail, and every leaf is hashed from its bundle by the
 * follower and proven against the signed root.
 */
import { VellumError } from '../errors';
import { HASH_SIZE, nodePairHashInto } from '../merkle/hash';
import { consistencyProof, planRoot, resolveElements } from '../merkle/proofs';
import type { Checkpoint } from '../checkpoint';
import { CompactRange } from './compact-range';
import { nodeOffset, tileNodeCount, type StoredTile, type TileSource } from '../merkle/tile-store';
import {
  decodeEntryBundle,
  entryBundlePath,
  TILE_HEIGHT,
  TILE_WIDTH,
  tilePath,
  tileWidthAt,
  type TileKey,
} from '../tiles/tiles';
import type { LeafSource, SourceCheckpoint, SourceLeaf } from './log-follower';

/** Fetches one tile resource by its C2SP path ("tile/0/x001/234.p/7"); rejects on any failure. */
export type TileFetcher = (path: string) => Promise<Uint8Array>;

/**
 * The stored-tile layout (C2SP hashes, then each sublevel's complete interior nodes) computed from
 * a C2SP hash tile of `width` hashes, so the core's proof planner can read it.
 */
export function storedTileFromHashes(key: TileKey, hashes: Uint8Array): StoredTile {
  const width = hashes.length / HASH_SIZE;
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH)
    throw new VellumError(
      'INVALID_TILE',
      `tile ${key.level}/${key.index} is ${hashes.length} bytes, not 1..256 hashes`,
    );
  const nodes = Buffer.allocUnsafe(tileNodeCount(width) * HASH_SIZE);
  nodes.set(hashes, 0);
  let count = width;
  for (let r = 1; r < TILE_HEIGHT; r++) {
    const below = nodeOffset(width, r - 1) * HASH_SIZE;
    const at = nodeOffset(width, r) * HASH_SIZE;
    count = Math.floor(count / 2);
    for (let i = 0; i < count; i++)
      nodePairHashInto(
        nodes,
        below + 2 * i * HASH_SIZE,
        nodes,
        below + (2 * i + 1) * HASH_SIZE,
        nodes,
        at + i * HASH_SIZE,
      );
  }
  return { level: key.level, index: key.index, width, nodes };
}

export interface TileLeafSourceOptions {
  readonly fetchTile: TileFetcher;
  readonly fetchCheckpoint: () => Promise<string>;
  /** Entry bundles fetched at once while reading leaves. */
  readonly concurrency: number;
  /** Full tiles are immutable: kept up to this many (default 4096, ~16 KiB each). */
  readonly cacheTiles?: number;
}

export class TileLeafSource implements LeafSource<never> {
  private readonly full = new Map<string, StoredTile>();
  /** Tiles fetched (full and partial), for throughput figures. */
  tileReads = 0;

  constructor(private readonly o: TileLeafSourceOptions) {}

  async latestCheckpoint(): Promise<SourceCheckpoint> {
    return { note: await this.o.fetchCheckpoint() };
  }

  consistencyProof(size1: number, size2: number): Promise<Uint8Array[]> {
    return consistencyProof(this.tilesOf(size2), size1, size2);
  }

  /**
   * The compact range of the whole tree of `cp` read from its hash tiles (a baseline that skips
   * history), checked against `cp`'s root: the perfect subtrees covering [0, size) are exactly
   * the nodes the root is folded from.
   */
  async compactRangeAt(cp: Checkpoint): Promise<CompactRange> {
    const nodes = planRoot(cp.size);
    const hashes = await resolveElements(
      this.tilesOf(cp.size),
      nodes.map((n) => [n]),
    );
    const range = CompactRange.from(cp.size, hashes);
    if (!range.root().equals(cp.rootHash))
      throw new VellumError(
        'INCONSISTENT_LOG',
        `the tiles of tree size ${cp.size} do not give its signed root`,
      );
    return range;
  }

  /** The hash tiles of the tree of `size`: each at the width that tree gives it. */
  tilesOf(size: number): TileSource {
    return {
      readTiles: (keys) =>
        Promise.all(keys.map((k) => this.hashTile(k, tileWidthAt(k.level, k.index, size)))),
    };
  }

  private async hashTile(key: TileKey, width: number): Promise<StoredTile | undefined> {
    if (width === 0) return undefined;
    const id = `${key.level}/${key.index}`;
    const hit = width === TILE_WIDTH ? this.full.get(id) : undefined;
    if (hit !== undefined) return hit;
    const bytes = await this.o.fetchTile(tilePath(key.level, key.index, width));
    this.tileReads++;
    if (bytes.length !== width * HASH_SIZE)
      throw new VellumError('INVALID_TILE', `tile ${id} of width ${width} is ${bytes.length} bytes`);
    const tile = storedTileFromHashes(key, bytes);
    if (width === TILE_WIDTH) {
      if (this.full.size >= (this.o.cacheTiles ?? 4096)) this.full.delete(this.full.keys().next().value!);
      this.full.set(id, tile);
    }
    return tile;
  }

  /** Entry bundle `n` of the tree of `treeSize`, as bodies. */
  private async bundle(n: number, treeSize: number): Promise<Buffer[]> {
    const width = tileWidthAt(0, n, treeSize);
    const bytes = await this.o.fetchTile(entryBundlePath(n, width));
    this.tileReads++;
    const bodies = decodeEntryBundle(bytes);
    if (bodies.length !== width)
      throw new VellumError('INVALID_TILE', `entry bundle ${n} holds ${bodies.length} entries, not ${width}`);
    return bodies;
  }

  async *leaves(from: number, to: number, treeSize: number): AsyncGenerator<SourceLeaf<never>[]> {
    if (from >= to) return;
    const first = Math.floor(from / TILE_WIDTH);
    const last = Math.floor((to - 1) / TILE_WIDTH);
    const inFlight = new Map<number, Promise<Buffer[]>>();
    let next = first;
    const launch = (): void => {
      while (next <= last && inFlight.size < this.o.concurrency) {
        const p = this.bundle(next, treeSize);
        p.catch(() => undefined); // awaited in order below
        inFlight.set(next++, p);
      }
    };
    for (let n = first; n <= last; n++) {
      launch();
      const bodies = await inFlight.get(n)!;
      inFlight.delete(n);
      const base = n * TILE_WIDTH;
      const out: SourceLeaf<never>[] = [];
      for (let i = Math.max(from, base); i < Math.min(to, base + bodies.length); i++)
        out.push({ index: i, body: bodies[i - base]! });
      yield out;
    }
  }
}
