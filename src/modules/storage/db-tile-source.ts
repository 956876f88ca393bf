import type { StoredTile, TileSource } from '../../core/merkle/tile-store';
import type { TileKey } from '../../core/tiles/tiles';
import type { VellumDatabase } from './database';
import { LruCache } from './lru';
import { bytes, num } from './sql';

const FULL_WIDTH = 256;

export interface DbTileSourceOptions {
  /** Tiles kept in memory. A full tile with its interior nodes is ~16 KiB. */
  readonly capacity: number;
  /**
   * Whether partial (right-edge) tiles may be cached. Only the sequencer may: it is the one
   * writer and puts every tile it commits, so its cache never holds an outdated partial tile.
   * Any other reader caches only full tiles, which never change once written.
   */
  readonly cachePartial: boolean;
}

function cacheKey(level: number, index: number): string {
  return `${level}/${index}`;
}

/** The core's TileSource over the `tiles` table, with an LRU cache in front. */
export class DbTileSource implements TileSource {
  private readonly cache: LruCache<string, StoredTile>;

  constructor(
    private readonly db: VellumDatabase,
    private readonly options: DbTileSourceOptions,
  ) {
    this.cache = new LruCache(options.capacity);
  }

  async readTiles(keys: readonly TileKey[]): Promise<ReadonlyArray<StoredTile | undefined>> {
    const out = new Array<StoredTile | undefined>(keys.length);
    const missing: TileKey[] = [];
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const hit = this.cache.get(cacheKey(k.level, k.index));
      if (hit !== undefined) out[i] = hit;
      else missing.push(k);
    }
    if (missing.length === 0) return out;

    const found = new Map<string, StoredTile>();
    // One query per call: `(level = ? AND idx = ?) OR ...` uses the primary key for each term.
    for (let start = 0; start < missing.length; start += 500) {
      const part = missing.slice(start, start + 500);
      const where = part.map(() => '(level = ? AND idx = ?)').join(' OR ');
      const params: number[] = [];
      for (const k of part) params.push(k.level, k.index);
      const rows = await this.db.read<{ level: unknown; idx: unknown; width: unknown; nodes: unknown }>(
        `SELECT level, idx, width, nodes FROM tiles WHERE ${where}`,
        params,
      );
      for (const r of rows) {
        const tile: StoredTile = {
          level: num(r.level),
          index: num(r.idx),
          width: num(r.width),
          nodes: bytes(r.nodes),
        };
        found.set(cacheKey(tile.level, tile.index), tile);
        if (this.options.cachePartial || tile.width === FULL_WIDTH)
          this.cache.set(cacheKey(tile.level, tile.index), tile);
      }
    }
    for (let i = 0; i < keys.length; i++) {
      if (out[i] === undefined) out[i] = found.get(cacheKey(keys[i]!.level, keys[i]!.index));
    }
    return out;
  }

  /** A tile in the cache, without I/O; undefined when it is not cached. */
  cached(level: number, index: number): StoredTile | undefined {
    return this.cache.get(cacheKey(level, index));
  }

  /** Records tiles a transaction has just committed. Never call before the COMMIT returned. */
  put(tiles: readonly StoredTile[]): void {
    for (const t of tiles) {
      if (this.options.cachePartial || t.width === FULL_WIDTH) this.cache.set(cacheKey(t.level, t.index), t);
    }
  }

  clear(): void {
    this.cache.clear();
  }
}

/**
 * A TileSource for one burst of proofs against one tree size (a batch's answers): every tile is
 * read at most once, partial right-edge tiles included, and concurrent requests for a tile share
 * one read. Stored tiles only grow and a narrower tile is derivable from a wider one, so tiles
 * read after later batches committed still prove against the older size. Throw it away after
 * the burst: it never sees later writes.
 */
export class MemoTileSource implements TileSource {
  private readonly memo = new Map<string, Promise<StoredTile | undefined>>();

  constructor(private readonly inner: TileSource) {}

  readTiles(keys: readonly TileKey[]): Promise<ReadonlyArray<StoredTile | undefined>> {
    const missing: TileKey[] = [];
    for (const k of keys) if (!this.memo.has(cacheKey(k.level, k.index))) missing.push(k);
    if (missing.length > 0) {
      const read = this.inner.readTiles(missing);
      missing.forEach((k, i) => {
        const p = read.then((tiles) => tiles[i]);
        // The rejection reaches every caller that awaits this tile; nobody else must see it.
        p.catch(() => undefined);
        this.memo.set(cacheKey(k.level, k.index), p);
      });
    }
    return Promise.all(keys.map((k) => this.memo.get(cacheKey(k.level, k.index))!));
  }
}
