/**
 * C2SP tlog-tiles arithmetic, paths and entry bundles (C2SP tlog-tiles).
 *
 * Indices and sizes go up to 2^53, so everything here uses division and multiplication: a 32-bit
 * shift or mask would silently wrap above 2^31.
 */
import { VellumError } from '../errors';

/** Tree levels covered by one tile level. */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile (2^TILE_HEIGHT). */
export const TILE_WIDTH = 256;

/** Highest tile level a path may name (C2SP: L is 0..63). */
const MAX_TILE_LEVEL = 63;

export interface TileKey {
  readonly level: number;
  readonly index: number;
}

export type ParsedTilePath =
  | { readonly kind: 'hash'; readonly level: number; readonly index: number; readonly width: number }
  | { readonly kind: 'entries'; readonly index: number; readonly width: number };

function invalid(message: string): never {
  throw new VellumError('INVALID_ARGUMENT', message);
}

function requireIndex(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) invalid(`${name} must be a non-negative safe integer`);
}

function requireLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) {
    invalid(`tile level must be an integer in 0..${MAX_TILE_LEVEL}`);
  }
}

/** 256^level as a double; exact while it matters (any level whose span can hold a safe integer). */
function tileSpan(level: number): number {
  return Math.pow(TILE_WIDTH, level);
}

/** "N" of a tile path: 3-digit groups, all but the last prefixed with "x". */
function encodeTileIndex(index: number): string {
  const digits = String(index);
  const padded = '0'.repeat((3 - (digits.length % 3)) % 3) + digits;
  const groups: string[] = [];
  for (let i = 0; i < padded.length; i += 3) groups.push(padded.slice(i, i + 3));
  return groups.map((g, i) => (i < groups.length - 1 ? 'x' + g : g)).join('/');
}

function widthSuffix(width: number | undefined): string {
  if (width === undefined || width === TILE_WIDTH) return '';
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
    invalid(`tile width must be an integer in 1..${TILE_WIDTH}`);
  }
  return `.p/${width}`;
}

/** "tile/<L>/<N>[.p/<W>]"; a width below 256 names the partial tile. */
export function tilePath(level: number, index: number, width?: number): string {
  requireLevel(level);
  requireIndex('tile index', index);
  return `tile/${level}/${encodeTileIndex(index)}${widthSuffix(width)}`;
}

/** "tile/entries/<N>[.p/<W>]". */
export function entryBundlePath(index: number, width?: number): string {
  requireIndex('entry bundle index', index);
  return `tile/entries/${encodeTileIndex(index)}${widthSuffix(width)}`;
}

const LEVEL_PATTERN = /^(0|[1-9][0-9]?)$/;
const WIDTH_PATTERN = /^[1-9][0-9]{0,2}$/;

/**
 * Parses "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]" in canonical form only: one spelling
 * per resource, so caches and the static-file layout cannot disagree. Full tiles report width 256.
 */
export function parseTilePath(path: string): ParsedTilePath {
  const segments = path.split('/');
  if (segments.length < 3 || segments[0] !== 'tile') invalid(`not a tile path: ${path}`);

  let width = TILE_WIDTH;
  if (segments.length >= 4 && segments[segments.length - 2].endsWith('.p')) {
    const w = segments[segments.length - 1];
    if (!WIDTH_PATTERN.test(w) || Number(w) >= TILE_WIDTH) invalid(`bad partial tile width in ${path}`);
    width = Number(w);
    segments.pop();
    const last = segments.length - 1;
    segments[last] = segments[last].slice(0, -2);
  }

  const levelSegment = segments[1];
  const index = parseTileIndex(segments.slice(2), path);
  if (levelSegment === 'entries') return { kind: 'entries', index, width };
  if (!LEVEL_PATTERN.test(levelSegment) || Number(levelSegment) > MAX_TILE_LEVEL) {
    invalid(`bad tile level in ${path}`);
  }
  return { kind: 'hash', level: Number(levelSegment), index, width };
}

function parseTileIndex(groups: readonly string[], path: string): number {
  let digits = '';
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    const isLast = i === groups.length - 1;
    const ok = isLast ? /^[0-9]{3}$/.test(g) : /^x[0-9]{3}$/.test(g);
    if (!ok) invalid(`bad tile index in ${path}`);
    digits += isLast ? g : g.slice(1);
  }
  // A leading all-zero group would be a second spelling of a smaller index.
  if (groups.length > 1 && groups[0] === 'x000') invalid(`non-canonical tile index in ${path}`);
  const index = Number(digits);
  if (!Number.isSafeInteger(index)) invalid(`tile index out of range in ${path}`);
  return index;
}

/** How many hashes tile (level, index) holds in a tree of treeSize leaves: 0 (not yet begun) to 256. */
export function tileWidthAt(level: number, index: number, treeSize: number): number {
  requireLevel(level);
  requireIndex('tile index', index);
  requireIndex('tree size', treeSize);
  const hashesAtLevel = Math.floor(treeSize / tileSpan(level));
  const beforeTile = index * TILE_WIDTH;
  if (hashesAtLevel <= beforeTile) return 0;
  return Math.min(TILE_WIDTH, hashesAtLevel - beforeTile);
}

/**
 * The partial tiles a checkpoint of treeSize implies: at each level, the rightmost tile when it is
 * neither empty nor full, lowest level first. Full tiles are implied too but are not listed.
 */
export function tilesForSize(treeSize: number): Array<{ level: number; index: number; width: number }> {
  requireIndex('tree size', treeSize);
  const tiles: Array<{ level: number; index: number; width: number }> = [];
  let hashesAtLevel = treeSize;
  for (let level = 0; hashesAtLevel > 0; level++) {
    const index = Math.floor(hashesAtLevel / TILE_WIDTH);
    const width = hashesAtLevel - index * TILE_WIDTH;
    if (width > 0) tiles.push({ level, index, width });
    hashesAtLevel = index;
  }
  return tiles;
}

/** Largest entry an entry bundle can carry (uint16 length prefix). */
export const MAX_BUNDLE_ENTRY_SIZE = 0xffff;

/** uint16_be(length) || bytes, for each entry in order. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const entry of entries) {
    if (entry.length > MAX_BUNDLE_ENTRY_SIZE) {
      invalid(`entry of ${entry.length} bytes exceeds the ${MAX_BUNDLE_ENTRY_SIZE}-byte bundle limit`);
    }
    total += 2 + entry.length;
  }
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const entry of entries) {
    out.writeUInt16BE(entry.length, offset);
    out.set(entry, offset + 2);
    offset += 2 + entry.length;
  }
  return out;
}

/**
 * Splits an entry bundle into its entries, views of one fresh copy of the bundle (so they do not
 * change with the caller's buffer, and a bundle costs one allocation, not one per entry);
 * truncation anywhere is INVALID_TILE.
 */
export function decodeEntryBundle(input: Uint8Array): Buffer[] {
  const bundle = Buffer.from(input);
  const entries: Buffer[] = [];
  let offset = 0;
  while (offset < bundle.length) {
    if (offset + 2 > bundle.length) {
      throw new VellumError('INVALID_TILE', `entry bundle truncated in a length prefix at byte ${offset}`);
    }
    const length = bundle[offset] * 256 + bundle[offset + 1];
    const start = offset + 2;
    if (start + length > bundle.length) {
      throw new VellumError('INVALID_TILE', `entry bundle truncated inside the entry at byte ${offset}`);
    }
    entries.push(bundle.subarray(start, start + length));
    offset = start + length;
  }
  return entries;
}
