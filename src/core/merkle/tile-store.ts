/**
 * Stored tiles: the C2SP tile hashes followed by the tile's interior nodes.
 *
 * A tile of width w stores, for sublevel r = 0..7, the floor(w / 2^r) complete subtree roots of
 * height r inside the tile, left to right, sublevel after sublevel. Sublevel 0 is the C2SP tile
 * itself, so serving a tile (full or `.p/W`) is a prefix slice, and a proof never rehashes a tile.
 * The layout depends on w, so a wider version of a tile is not byte-for-byte an extension of a
 * narrower one; a narrower version is still derivable from a wider one (see nodeOffset).
 */
import { VellumError } from '../errors';
import { TILE_HEIGHT, TILE_WIDTH, type TileKey } from '../tiles/tiles';
import { HASH_SIZE } from './hash';

export interface StoredTile {
  readonly level: number;
  readonly index: number;
  /** Hashes in the C2SP tile, 1..256. */
  readonly width: number;
  /** tileNodeCount(width) hashes, laid out as described above. */
  readonly nodes: Buffer;
}

export interface TileSource {
  /** The latest stored version of each requested tile, in request order; undefined where none exists. */
  readTiles(keys: readonly TileKey[]): Promise<ReadonlyArray<StoredTile | undefined>>;
}

/** Hashes stored in a tile of this width: sum over r = 0..7 of floor(width / 2^r). */
export function tileNodeCount(width: number): number {
  return nodeOffset(width, TILE_HEIGHT);
}

/** Position (in hashes) of the first node of `sublevel` in a tile of this width. */
export function nodeOffset(width: number, sublevel: number): number {
  let offset = 0;
  let count = width;
  for (let r = 0; r < sublevel; r++) {
    offset += count;
    count = Math.floor(count / 2);
  }
  return offset;
}

/** The C2SP tile bytes of `tile` at `width` (default: the whole tile); a view, not a copy. */
export function tileData(tile: StoredTile, width: number = tile.width): Buffer {
  if (!Number.isInteger(width) || width < 1 || width > tile.width) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `tile ${tile.level}/${tile.index} has width ${tile.width}; cannot serve width ${width}`,
    );
  }
  return tile.nodes.subarray(0, width * HASH_SIZE);
}

/**
 * Throws INVALID_TILE unless `tile` is the tile at `key`, is at least `minWidth` wide and carries as
 * many node bytes as its width implies.
 */
export function checkStoredTile(tile: StoredTile | undefined, key: TileKey, minWidth: number): StoredTile {
  if (tile === undefined) {
    throw new VellumError('INVALID_TILE', `tile ${key.level}/${key.index} is missing`);
  }
  if (tile.level !== key.level || tile.index !== key.index) {
    throw new VellumError(
      'INVALID_TILE',
      `asked for tile ${key.level}/${key.index}, got ${tile.level}/${tile.index}`,
    );
  }
  if (
    !Number.isInteger(tile.width) ||
    tile.width < minWidth ||
    tile.width > TILE_WIDTH ||
    tile.nodes.length !== tileNodeCount(tile.width) * HASH_SIZE
  ) {
    throw new VellumError(
      'INVALID_TILE',
      `tile ${key.level}/${key.index} has width ${tile.width} and ${tile.nodes.length} node bytes; ` +
        `need width >= ${minWidth}`,
    );
  }
  return tile;
}

/**
 * Tiles in memory, keyed by level and index; the last write of a tile replaces the previous one.
 * Used by tests, the benchmark and the embedded single-process mode's caches.
 */
export class MemoryTileStore implements TileSource {
  private readonly levels: Array<Map<number, StoredTile>> = [];
  private stored = 0;

  write(tiles: readonly StoredTile[]): void {
    for (const tile of tiles) {
      let level = this.levels[tile.level];
      if (level === undefined) {
        for (let l = this.levels.length; l <= tile.level; l++) this.levels.push(new Map());
        level = this.levels[tile.level];
      }
      const before = level.size;
      level.set(tile.index, tile);
      this.stored += level.size - before;
    }
  }

  get(level: number, index: number): StoredTile | undefined {
    return this.levels[level]?.get(index);
  }

  get count(): number {
    return this.stored;
  }

  readTiles(keys: readonly TileKey[]): Promise<ReadonlyArray<StoredTile | undefined>> {
    const tiles = new Array<StoredTile | undefined>(keys.length);
    for (let i = 0; i < keys.length; i++) tiles[i] = this.get(keys[i].level, keys[i].index);
    return Promise.resolve(tiles);
  }
}
