/**
 * Large trees: a 70,000-leaf tree (three tile levels, the spec's worked example), proof plans for
 * sizes up to 2^53 - 1 against the BigInt RFC recursion, and complete proofs for huge sparse trees
 * served by a virtual tile source.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import { MerkleAppender } from '../../src/core/merkle/appender';
import {
  consistencyProof,
  inclusionProof,
  locateNode,
  planConsistency,
  planInclusion,
  planRoot,
  rootAt,
  type ProofElement,
} from '../../src/core/merkle/proofs';
import { MemoryTileStore, type StoredTile, type TileSource } from '../../src/core/merkle/tile-store';
import { verifyConsistency, verifyInclusion } from '../../src/core/merkle/verify';
import {
  assertTileMatches,
  ListTree,
  pathRanges,
  prng,
  proofRanges,
  referenceConsistency,
  referenceInclusion,
  referenceRoot,
  refLeafHash,
  SparseTree,
  tileNodeRange,
  type Range,
} from '../support/reference-merkle';

const MAX = 2n ** 53n - 1n;

/** The leaf range an element's nodes cover, checking they are perfect, contiguous and shrinking. */
function elementRange(element: ProofElement): Range {
  assert.ok(element.length > 0);
  let previousHeight = Infinity;
  let cursor: bigint | undefined;
  let start = 0n;
  for (const node of element) {
    assert.ok(Number.isSafeInteger(node.index) && node.index >= 0 && node.height >= 0);
    assert.ok(node.height < previousHeight, 'nodes strictly decrease in height');
    previousHeight = node.height;
    const span = 2n ** BigInt(node.height);
    const nodeStart = BigInt(node.index) * span;
    if (cursor === undefined) start = nodeStart;
    else assert.equal(nodeStart, cursor, 'nodes are contiguous');
    cursor = nodeStart + span;
  }
  return [start, cursor!];
}

const sizeArb = fc.oneof(
  fc.bigInt({ min: 1n, max: MAX }),
  fc.bigInt({ min: 1n, max: 2n ** 20n }),
  fc.integer({ min: 0, max: 52 }).map((h) => 2n ** BigInt(h)),
  fc.integer({ min: 1, max: 53 }).map((h) => 2n ** BigInt(h) - 1n),
);

describe('proof plans up to 2^53 - 1 against the BigInt RFC 6962 recursion', () => {
  it('planInclusion covers exactly the ranges of PATH(m, D[n])', () => {
    fc.assert(
      fc.property(sizeArb, fc.bigInt({ min: 0n, max: MAX }), (n, r) => {
        const m = r % n;
        const plan = planInclusion(Number(m), Number(n));
        assert.deepEqual(plan.map(elementRange), pathRanges(m, 0n, n));
      }),
      { numRuns: 3000, endOnFailure: true },
    );
  });

  it('planConsistency covers exactly the ranges of PROOF(m, D[n])', () => {
    fc.assert(
      fc.property(sizeArb, fc.bigInt({ min: 0n, max: MAX }), (n, r) => {
        const m = 1n + (r % n);
        const plan = planConsistency(Number(m), Number(n));
        assert.deepEqual(plan.map(elementRange), m === n ? [] : proofRanges(m, n));
      }),
      { numRuns: 3000, endOnFailure: true },
    );
  });

  it('planRoot covers [0, n)', () => {
    fc.assert(
      fc.property(sizeArb, (n) => {
        assert.deepEqual(elementRange(planRoot(Number(n))), [0n, n]);
      }),
      { numRuns: 1000, endOnFailure: true },
    );
    assert.deepEqual(planRoot(0), []);
  });

  it('locateNode puts node (h, k) in tile (floor(h/8), floor(k / 2^(8 - h mod 8)))', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 52 }), fc.bigInt({ min: 0n, max: MAX }), (height, r) => {
        const index = r / 2n ** BigInt(height);
        const where = locateNode({ height, index: Number(index) });
        const sublevel = height % 8;
        const perTile = 2n ** BigInt(8 - sublevel);
        assert.equal(where.tile.level, Math.floor(height / 8));
        assert.equal(where.sublevel, sublevel);
        assert.equal(BigInt(where.tile.index), index / perTile);
        assert.equal(BigInt(where.position), index % perTile);
        assert.equal(BigInt(where.minWidth), ((index % perTile) + 1n) * 2n ** BigInt(sublevel));
        // The node's leaves are what the tile layout says that slot holds.
        const [s, e] = tileNodeRange(where.tile.level, where.tile.index, where.sublevel, where.position);
        assert.deepEqual([s, e], [index * 2n ** BigInt(height), (index + 1n) * 2n ** BigInt(height)]);
      }),
      { numRuns: 3000, endOnFailure: true },
    );
  });
});

/**
 * Tiles of a SparseTree of `size` leaves, built on demand from the reference: each stored hash is
 * the reference MTH of the range the layout assigns to it.
 */
class VirtualTiles implements TileSource {
  reads = 0;
  constructor(
    private readonly tree: SparseTree,
    private readonly size: bigint,
  ) {}

  readTiles(keys: readonly { level: number; index: number }[]): Promise<Array<StoredTile | undefined>> {
    this.reads++;
    return Promise.resolve(keys.map((key) => this.tile(key.level, key.index)));
  }

  private tile(level: number, index: number): StoredTile | undefined {
    const hashes = this.size / 256n ** BigInt(level) - BigInt(index) * 256n;
    if (hashes <= 0n) return undefined;
    const width = Number(hashes > 256n ? 256n : hashes);
    const parts: Buffer[] = [];
    for (let sublevel = 0; sublevel < 8; sublevel++) {
      for (let p = 0; p < Math.floor(width / 2 ** sublevel); p++) {
        const [s, e] = tileNodeRange(level, index, sublevel, p);
        parts.push(this.tree.mth(s, e));
      }
    }
    return { level, index, width, nodes: Buffer.concat(parts) };
  }
}

describe('huge sparse trees through a virtual tile source', () => {
  it('inclusion and consistency proofs and roots equal the reference and verify, sizes up to 2^53 - 1', async () => {
    await fc.assert(
      fc.asyncProperty(
        sizeArb.filter((n) => n > 1n),
        fc.array(fc.bigInt({ min: 0n, max: MAX }), { minLength: 1, maxLength: 4 }),
        fc.bigInt({ min: 0n, max: MAX }),
        async (size, rawSpecials, rawOld) => {
          const specials = new Map(rawSpecials.map((r) => [r % size, refLeafHash(randomBytes(8))]));
          const tree = new SparseTree(refLeafHash(Buffer.from('filler')), specials);
          const source = new VirtualTiles(tree, size);
          const root = referenceRoot(tree, size);
          assert.deepEqual(await rootAt(source, Number(size)), root);

          for (const index of [...specials.keys(), size - 1n, rawOld % size]) {
            const proof = await inclusionProof(source, Number(index), Number(size));
            assert.deepEqual(proof, referenceInclusion(tree, index, size));
            verifyInclusion(tree.leafAt(index), Number(index), Number(size), proof, root);
          }

          for (const old of [1n + (rawOld % size), ...[...specials.keys()].map((k) => k + 1n)]) {
            const proof = await consistencyProof(source, Number(old), Number(size));
            assert.deepEqual(proof, old === size ? [] : referenceConsistency(tree, old, size));
            verifyConsistency(Number(old), Number(size), proof, referenceRoot(tree, old), root);
          }
        },
      ),
      { numRuns: 100, endOnFailure: true },
    );
  });

  it('a proof costs exactly one readTiles call', async () => {
    const size = 2n ** 40n + 12345n;
    const tree = new SparseTree(
      refLeafHash(Buffer.from('x')),
      new Map([[777n, refLeafHash(Buffer.from('y'))]]),
    );
    const source = new VirtualTiles(tree, size);
    await inclusionProof(source, 777, Number(size));
    await consistencyProof(source, 778, Number(size));
    await rootAt(source, Number(size));
    assert.equal(source.reads, 3);
  });
});

describe('a 70,000-leaf tree (three tile levels)', () => {
  const total = 70_000;
  const appender = MerkleAppender.empty();
  const store = new MemoryTileStore();
  const ref = new ListTree();
  const sizes: number[] = [];

  it('appends in random batches with the right roots', () => {
    const next = prng(12345);
    while (appender.size < total) {
      const batch = Array.from({ length: Math.min(1 + next(5000), total - appender.size) }, (_, i) =>
        refLeafHash(Buffer.from(`leaf ${appender.size + i}`)),
      );
      const result = appender.append(batch);
      ref.add(batch);
      store.write(result.tiles);
      sizes.push(result.size);
      assert.deepEqual(result.root, referenceRoot(ref, BigInt(result.size)));
    }
    assert.deepEqual(
      [store.get(0, 273)?.width, store.get(1, 1)?.width, store.get(2, 0)?.width],
      [112, 17, 1],
      'the partial tiles of the spec example',
    );
  });

  it('every tile, full and partial, at every level matches the reference', () => {
    let count = 0;
    for (let level = 0; level < 3; level++) {
      for (let index = 0; store.get(level, index) !== undefined; index++, count++) {
        assertTileMatches(store.get(level, index)!, ref);
      }
    }
    assert.equal(count, store.count);
    assert.equal(count, 274 + 2 + 1);
  });

  it('roots, inclusion and consistency proofs across tile boundaries', async () => {
    const interesting = [1, 255, 256, 257, 65_535, 65_536, 65_537, 69_999, 70_000, ...sizes];
    const next = prng(99);
    for (let i = 0; i < 400; i++) interesting.push(1 + next(total));
    for (const size of interesting) {
      const root = referenceRoot(ref, BigInt(size));
      assert.deepEqual(await rootAt(store, size), root, `root ${size}`);
      const index = next(size);
      const proof = await inclusionProof(store, index, size);
      assert.deepEqual(
        proof,
        referenceInclusion(ref, BigInt(index), BigInt(size)),
        `inclusion (${index}, ${size})`,
      );
      verifyInclusion(ref.leaves[index], index, size, proof, root);
      const old = 1 + next(size);
      const cproof = await consistencyProof(store, old, size);
      assert.deepEqual(cproof, old === size ? [] : referenceConsistency(ref, BigInt(old), BigInt(size)));
      verifyConsistency(old, size, cproof, referenceRoot(ref, BigInt(old)), root);
    }
  });

  it('resume at the spec size from the right-edge tiles continues identically', async () => {
    const resumed = await MerkleAppender.resume(total, store);
    assert.deepEqual(resumed.root(), appender.root());
    const more = Array.from({ length: 66_000 }, (_, i) => refLeafHash(Buffer.from(`more ${i}`)));
    const a = appender.append(more);
    const b = resumed.append(more);
    assert.deepEqual(b, a);
    ref.add(more);
    assert.deepEqual(a.root, referenceRoot(ref, BigInt(total + more.length)));
  });
});
