/** C2SP tlog-tiles arithmetic, paths, entry bundles and tile slicing (C2SP tlog-tiles). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import { isVellumError, type ErrorCode } from '../../src/core/errors';
import { tileData, type StoredTile } from '../../src/core/merkle/tile-store';
import {
  decodeEntryBundle,
  encodeEntryBundle,
  entryBundlePath,
  parseTilePath,
  TILE_HEIGHT,
  TILE_WIDTH,
  tilePath,
  tilesForSize,
  tileWidthAt,
} from '../../src/core/tiles/tiles';

const throwsCode = (fn: () => unknown, code: ErrorCode): void => {
  assert.throws(fn, (e) => isVellumError(e, code));
};

/** Naive BigInt definitions straight from the spec text. */
function naiveWidth(level: number, index: bigint, size: bigint): number {
  const hashes = size / 256n ** BigInt(level);
  const w = hashes - index * 256n;
  return Number(w <= 0n ? 0n : w >= 256n ? 256n : w);
}
function naivePartials(size: bigint): Array<{ level: number; index: number; width: number }> {
  const out: Array<{ level: number; index: number; width: number }> = [];
  for (let level = 0; 256n ** BigInt(level) <= size; level++) {
    const span = 256n ** BigInt(level);
    const width = (size / span) % 256n;
    if (width > 0n) out.push({ level, index: Number(size / (span * 256n)), width: Number(width) });
  }
  return out;
}

const sizeUpTo2to40 = fc.bigInt({ min: 0n, max: 2n ** 40n }).map(Number);

describe('tile arithmetic', () => {
  it('constants', () => {
    assert.equal(TILE_HEIGHT, 8);
    assert.equal(TILE_WIDTH, 256);
  });

  it('spec worked example: size 70,000', () => {
    assert.deepEqual(tilesForSize(70_000), [
      { level: 0, index: 273, width: 112 },
      { level: 1, index: 1, width: 17 },
      { level: 2, index: 0, width: 1 },
    ]);
    assert.equal(tileWidthAt(0, 272, 70_000), 256);
    assert.equal(tileWidthAt(0, 273, 70_000), 112);
    assert.equal(tileWidthAt(0, 274, 70_000), 0);
    assert.equal(tileWidthAt(1, 0, 70_000), 256);
    assert.equal(tileWidthAt(1, 1, 70_000), 17);
    assert.equal(tileWidthAt(2, 0, 70_000), 1);
    assert.equal(tileWidthAt(3, 0, 70_000), 0);
  });

  it('spec worked example: size 256', () => {
    assert.deepEqual(tilesForSize(256), [{ level: 1, index: 0, width: 1 }]);
    assert.equal(tileWidthAt(0, 0, 256), 256);
  });

  it('spec worked example: size 300 (sunlight mirror layout)', () => {
    const paths = tilesForSize(300).map((t) => tilePath(t.level, t.index, t.width));
    assert.deepEqual(paths, ['tile/0/001.p/44', 'tile/1/000.p/1']);
    assert.equal(tilePath(0, 0, tileWidthAt(0, 0, 300)), 'tile/0/000');
    assert.equal(entryBundlePath(0, tileWidthAt(0, 0, 300)), 'tile/entries/000');
    assert.equal(entryBundlePath(1, tileWidthAt(0, 1, 300)), 'tile/entries/001.p/44');
  });

  it('empty tree implies no tiles', () => {
    assert.deepEqual(tilesForSize(0), []);
    assert.equal(tileWidthAt(0, 0, 0), 0);
  });

  it('tileWidthAt agrees with the naive BigInt definition up to 2^40', () => {
    fc.assert(
      fc.property(
        sizeUpTo2to40,
        fc.integer({ min: 0, max: 6 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (size, level, f) => {
          const tilesAtLevel = Math.floor(size / 256 ** (level + 1));
          // Mostly probe near the right edge, where widths are interesting.
          const index = Math.max(0, tilesAtLevel - 2 + Math.floor(f * 5));
          assert.equal(tileWidthAt(level, index, size), naiveWidth(level, BigInt(index), BigInt(size)));
        },
      ),
      { numRuns: 3000, endOnFailure: true },
    );
  });

  it('tilesForSize agrees with the naive BigInt definition up to 2^40 and near powers of 256', () => {
    fc.assert(
      fc.property(sizeUpTo2to40, (size) => {
        assert.deepEqual(tilesForSize(size), naivePartials(BigInt(size)));
      }),
      { numRuns: 3000, endOnFailure: true },
    );
    for (const level of [1, 2, 3, 4, 5]) {
      for (const delta of [-1, 0, 1]) {
        const size = 256 ** level + delta;
        assert.deepEqual(tilesForSize(size), naivePartials(BigInt(size)), `size ${size}`);
      }
    }
    const max = Number.MAX_SAFE_INTEGER;
    assert.deepEqual(tilesForSize(max), naivePartials(BigInt(max)));
  });

  it('refuses bad sizes, levels and indices', () => {
    throwsCode(() => tilesForSize(-1), 'INVALID_ARGUMENT');
    throwsCode(() => tilesForSize(1.5), 'INVALID_ARGUMENT');
    throwsCode(() => tileWidthAt(64, 0, 1), 'INVALID_ARGUMENT');
    throwsCode(() => tileWidthAt(0, -1, 1), 'INVALID_ARGUMENT');
  });
});

describe('tile paths', () => {
  it('spec index examples', () => {
    assert.equal(tilePath(0, 0), 'tile/0/000');
    assert.equal(tilePath(0, 5), 'tile/0/005');
    assert.equal(tilePath(0, 1000), 'tile/0/x001/000');
    assert.equal(tilePath(0, 1234067), 'tile/0/x001/x234/067');
    assert.equal(tilePath(1, 0, 17), 'tile/1/000.p/17');
    assert.equal(tilePath(0, 1234, 256), 'tile/0/x001/234');
    assert.equal(entryBundlePath(1234, 3), 'tile/entries/x001/234.p/3');
    assert.equal(entryBundlePath(1234067), 'tile/entries/x001/x234/067');
  });

  it('round-trips through parseTilePath', () => {
    const width = fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 256 }));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 63 }),
        fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }).map(Number)),
        width,
        (level, index, w) => {
          const expectedWidth = w ?? 256;
          assert.deepEqual(parseTilePath(tilePath(level, index, w)), {
            kind: 'hash',
            level,
            index,
            width: expectedWidth,
          });
          assert.deepEqual(parseTilePath(entryBundlePath(index, w)), {
            kind: 'entries',
            index,
            width: expectedWidth,
          });
        },
      ),
      { numRuns: 3000, endOnFailure: true },
    );
  });

  it('parses the spec examples', () => {
    assert.deepEqual(parseTilePath('tile/0/x001/x234/067'), {
      kind: 'hash',
      level: 0,
      index: 1234067,
      width: 256,
    });
    assert.deepEqual(parseTilePath('tile/1/000.p/17'), { kind: 'hash', level: 1, index: 0, width: 17 });
    assert.deepEqual(parseTilePath('tile/entries/001.p/44'), { kind: 'entries', index: 1, width: 44 });
    assert.deepEqual(parseTilePath('tile/63/999'), { kind: 'hash', level: 63, index: 999, width: 256 });
  });

  it('rejects every non-canonical or malformed spelling', () => {
    for (const bad of [
      '',
      'tile',
      'tile/0',
      'tiles/0/000',
      '/tile/0/000',
      'tile/0/000/',
      'tile/00/000',
      'tile/01/000',
      'tile/64/000',
      'tile/-1/000',
      'tile/a/000',
      'tile/0/0',
      'tile/0/0000',
      'tile/0/x000/005',
      'tile/0/x001',
      'tile/0/001/000',
      'tile/0/X001/000',
      'tile/0/x01/000',
      'tile/0/x001/00a',
      'tile/0/000.p/0',
      'tile/0/000.p/256',
      'tile/0/000.p/07',
      'tile/0/000.p/',
      'tile/0/000.p',
      'tile/0/000.p/1/2',
      'tile/0/000.q/5',
      'tile/entries/000.p/300',
      'tile/entries/x000/001',
      'tile/entries/',
      'tile/0/x009/x007/x199/x254/x740/x993', // 2^53 + ..., beyond safe integers
    ]) {
      throwsCode(() => parseTilePath(bad), 'INVALID_ARGUMENT');
    }
  });

  it('refuses bad widths and indices when building paths', () => {
    throwsCode(() => tilePath(0, 1, 0), 'INVALID_ARGUMENT');
    throwsCode(() => tilePath(0, 1, 257), 'INVALID_ARGUMENT');
    throwsCode(() => tilePath(0, 1.5), 'INVALID_ARGUMENT');
    throwsCode(() => tilePath(64, 1), 'INVALID_ARGUMENT');
    throwsCode(() => entryBundlePath(-1), 'INVALID_ARGUMENT');
    throwsCode(() => entryBundlePath(2 ** 53), 'INVALID_ARGUMENT');
  });
});

describe('entry bundles', () => {
  it('encodes uint16_be(length) || bytes', () => {
    const bundle = encodeEntryBundle([Buffer.from('abc'), Buffer.alloc(0), Buffer.alloc(300, 7)]);
    const expected = Buffer.concat([
      Buffer.from([0, 3]),
      Buffer.from('abc'),
      Buffer.from([0, 0]),
      Buffer.from([1, 44]),
      Buffer.alloc(300, 7),
    ]);
    assert.deepEqual(bundle, expected);
    assert.deepEqual(decodeEntryBundle(expected), [
      Buffer.from('abc'),
      Buffer.alloc(0),
      Buffer.alloc(300, 7),
    ]);
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 40 }), (entries) => {
        const decoded = decodeEntryBundle(encodeEntryBundle(entries));
        assert.deepEqual(
          decoded.map((b) => Buffer.from(b)),
          entries.map((e) => Buffer.from(e)),
        );
      }),
      { numRuns: 300, endOnFailure: true },
    );
  });

  it('accepts 65,535-byte entries and refuses larger ones', () => {
    const max = Buffer.alloc(65_535, 1);
    assert.deepEqual(decodeEntryBundle(encodeEntryBundle([max])), [max]);
    throwsCode(() => encodeEntryBundle([Buffer.alloc(65_536)]), 'INVALID_ARGUMENT');
  });

  it('every prefix either ends on an entry boundary (and decodes to those entries) or is INVALID_TILE', () => {
    const entries = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(260, 9)];
    const bundle = encodeEntryBundle(entries);
    const boundaries = new Map<number, number>();
    let offset = 0;
    boundaries.set(0, 0);
    entries.forEach((e, i) => {
      offset += 2 + e.length;
      boundaries.set(offset, i + 1);
    });
    for (let cut = 0; cut <= bundle.length; cut++) {
      const prefix = bundle.subarray(0, cut);
      const count = boundaries.get(cut);
      if (count === undefined) throwsCode(() => decodeEntryBundle(prefix), 'INVALID_TILE');
      else assert.deepEqual(decodeEntryBundle(prefix), entries.slice(0, count));
    }
  });

  it('decoded entries are copies', () => {
    const bundle = encodeEntryBundle([Buffer.from('abc')]);
    const [entry] = decodeEntryBundle(bundle);
    bundle[2] = 0x7a;
    assert.equal(entry.toString(), 'abc');
  });
});

describe('tileData', () => {
  const tile: StoredTile = {
    level: 0,
    index: 3,
    width: 5,
    // width 5 stores 5 + 2 + 1 hashes
    nodes: Buffer.from(Array.from({ length: 8 * 32 }, (_, i) => i % 251)),
  };

  it('serves the C2SP prefix for the stored width and any narrower one', () => {
    assert.deepEqual(tileData(tile), tile.nodes.subarray(0, 5 * 32));
    for (let w = 1; w <= 5; w++) assert.deepEqual(tileData(tile, w), tile.nodes.subarray(0, w * 32));
  });

  it('refuses widths above the stored width or below 1', () => {
    throwsCode(() => tileData(tile, 6), 'INVALID_ARGUMENT');
    throwsCode(() => tileData(tile, 0), 'INVALID_ARGUMENT');
  });
});
