import { Injectable } from '@nestjs/common';
import { VellumError } from '../../core/errors';
import { encodeEntryBundle, parseTilePath, TILE_WIDTH, tileWidthAt } from '../../core/tiles/tiles';
import { LogReader } from '../log/log-reader.service';
import type { SignedCheckpoint } from '../log/log.types';
import { LruCache } from '../storage/lru';

/** One C2SP tlog-tiles resource, ready to send. */
export interface TileResource {
  readonly body: Buffer;
  /** Full tiles and full entry bundles never change; partial ones are superseded as the log grows. */
  readonly immutable: boolean;
}

/** Full entry bundles kept in memory (immutable; a few hundred KiB each at most). */
const BUNDLE_CACHE_ENTRIES = 256;

function notFound(what: string): never {
  throw new VellumError('NOT_FOUND', `${what} is beyond the current tree`);
}

/**
 * Serves the C2SP tlog-tiles read API from what the sequencer has stored: hash tiles are a prefix
 * slice of the stored tiles (never rehashed per request) and entry bundles are the stored
 * canonical bodies. Only resources the latest committed checkpoint implies are served, so a client
 * never sees a tile ahead of the checkpoint it can fetch.
 */
@Injectable()
export class TileReader {
  /** Largest committed size seen; the log only grows, so a tile covered by it needs no new read. */
  private knownSize = 0;
  private readonly bundles = new LruCache<number, Buffer>(BUNDLE_CACHE_ENTRIES);

  constructor(private readonly log: LogReader) {}

  /** The latest signed checkpoint note, as the Rekor v1 API serves it. */
  async checkpoint(): Promise<SignedCheckpoint> {
    const cp = await this.log.latestCheckpoint();
    if (cp.size > this.knownSize) this.knownSize = cp.size;
    return cp;
  }

  /** `path` without the leading slash: "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]". */
  async read(path: string): Promise<TileResource> {
    const p = parseTilePath(path);
    const level = p.kind === 'hash' ? p.level : 0;
    await this.requireCovered(level, p.index, p.width, path);
    const immutable = p.width === TILE_WIDTH;
    if (p.kind === 'entries') return { body: await this.entryBundle(p.index, p.width), immutable };
    const body = await this.log.getTile(p.level, p.index, p.width);
    // The checkpoint implies this tile, so its absence is the log's own inconsistency, not a 404.
    if (body === null) throw new VellumError('INCONSISTENT_LOG', `stored tile missing for ${path}`);
    return { body, immutable };
  }

  /**
   * 404 unless the tree of the latest checkpoint holds at least `width` hashes in this tile
   * (a full tile only once it is full; a partial tile no wider than what exists).
   */
  private async requireCovered(level: number, index: number, width: number, path: string): Promise<void> {
    if (tileWidthAt(level, index, this.knownSize) >= width) return;
    const cp = await this.checkpoint();
    if (tileWidthAt(level, index, cp.size) < width) notFound(path);
  }

  private async entryBundle(index: number, width: number): Promise<Buffer> {
    if (width === TILE_WIDTH) {
      const hit = this.bundles.get(index);
      if (hit !== undefined) return hit;
    }
    const first = index * TILE_WIDTH;
    const bodies = await this.log.entryBodies(first, width);
    if (bodies.length !== width) {
      throw new VellumError('INCONSISTENT_LOG', `stored entries missing for entry bundle ${index}`);
    }
    // C2SP entry bundles carry uint16 lengths; a larger canonical body cannot be served this way.
    const tooLarge = bodies.findIndex((b) => b.length > 0xffff);
    if (tooLarge >= 0) {
      throw new VellumError(
        'INVALID_TILE',
        `entry ${first + tooLarge} is larger than an entry bundle can carry (65535 bytes)`,
      );
    }
    const bundle = encodeEntryBundle(bodies);
    if (width === TILE_WIDTH) this.bundles.set(index, bundle);
    return bundle;
  }
}
