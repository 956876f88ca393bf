/**
 * The tiled tree against the recursive RFC 6962 reference: random trees of a few thousand leaves,
 * appended in random batches; every root, a dense set of proofs, every tile's content, and resume.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';

import { isVellumError } from '../../src/core/errors';
import { MerkleAppender, type AppendResult } from '../../src/core/merkle/appender';
import { consistencyProof, inclusionProof, inclusionProofsFrom, rootAt } from '../../src/core/merkle/proofs';
import { MemoryTileStore, type StoredTile, type TileSource } from '../../src/core/merkle/tile-store';
import { verifyConsistency, verifyInclusion } from '../../src/core/merkle/verify';
import {
  assertTileMatches,
  ListTree,
  prng,
  referenceConsistency,
  referenceInclusion,
  referenceRoot,
  refLeafHash,
} from '../support/reference-merkle';

/** Width of tile (level, index) at size, from the spec's definition, independent of src/core/tiles. */
function widthAt(level: number, index: number, size: number): number {
  const hashes = Math.floor(size / 256 ** level);
  return Math.max(0, Math.min(256, hashes - index * 256));
}

function allTiles(store: MemoryTileStore): StoredTile[] {
  const out: StoredTile[] = [];
  for (let level = 0; store.get(level, 0) !== undefined; level++) {
    for (let index = 0; ; index++) {
      const tile = store.get(level, index);
      if (tile === undefined) break;
      out.push(tile);
    }
  }
  assert.equal(out.length, store.count, 'tiles are stored contiguously from index 0');
  return out;
}

function cloneStore(store: MemoryTileStore): MemoryTileStore {
  const copy = new MemoryTileStore();
  copy.write(allTiles(store));
  return copy;
}

interface Step {
  readonly batch: Buffer[];
  readonly result: AppendResult;
}

interface Built {
  readonly store: MemoryTileStore;
  readonly ref: ListTree;
  readonly steps: Step[];
  /** Store snapshots taken after some steps: index of the step -> copy of the store. */
  readonly snapshots: Map<number, MemoryTileStore>;
}

/** Appends `total` random leaves in random batches, checking every append against the reference. */
function build(seed: number, total: number): Built {
  const rand = prng(seed);
  const appender = MerkleAppender.empty();
  const store = new MemoryTileStore();
  const ref = new ListTree();
  const steps: Step[] = [];
  const snapshots = new Map<number, MemoryTileStore>();
  while (appender.size < total) {
    const roll = rand(20);
    const want = roll === 0 ? 0 : roll < 14 ? 1 + rand(12) : roll < 19 ? 1 + rand(300) : 256 + rand(700);
    const batch = Array.from({ length: Math.min(want, total - appender.size) }, () =>
      refLeafHash(randomBytes(1 + rand(40))),
    );
    const before = appender.size;
    const result = appender.append(batch);
    ref.add(batch);
    const after = before + batch.length;

    assert.equal(result.size, after);
    assert.equal(appender.size, after);
    assert.deepEqual(result.root, referenceRoot(ref, BigInt(after)), `root at ${after}`);
    assert.deepEqual(appender.root(), result.root);

    // Exactly the tiles whose width changed, each complete at the new size.
    const expected: string[] = [];
    for (let level = 0; 256 ** level <= after; level++) {
      const first = Math.floor(Math.floor(before / 256 ** level) / 256);
      const last = Math.floor(Math.floor(after / 256 ** level) / 256);
      for (let index = first; index <= last; index++) {
        const w = widthAt(level, index, after);
        if (w > 0 && w !== widthAt(level, index, before)) expected.push(`${level}/${index}@${w}`);
      }
    }
    assert.deepEqual(
      result.tiles.map((t) => `${t.level}/${t.index}@${t.width}`).sort(),
      expected.sort(),
      `tiles changed by ${before} -> ${after}`,
    );
    for (const tile of result.tiles) assertTileMatches(tile, ref);

    store.write(result.tiles);
    steps.push({ batch, result });
    if (steps.length === 1 || rand(10) === 0) snapshots.set(steps.length - 1, cloneStore(store));
  }
  return { store, ref, steps, snapshots };
}

async function assertInclusion(store: TileSource, ref: ListTree, index: number, size: number): Promise<void> {
  const proof = await inclusionProof(store, index, size);
  assert.deepEqual(
    proof,
    referenceInclusion(ref, BigInt(index), BigInt(size)),
    `inclusion (${index}, ${size})`,
  );
  verifyInclusion(ref.leaves[index], index, size, proof, referenceRoot(ref, BigInt(size)));
}

async function assertConsistency(
  store: TileSource,
  ref: ListTree,
  size1: number,
  size2: number,
): Promise<void> {
  const proof = await consistencyProof(store, size1, size2);
  assert.deepEqual(
    proof,
    referenceConsistency(ref, BigInt(size1), BigInt(size2)),
    `consistency (${size1}, ${size2})`,
  );
  verifyConsistency(
    size1,
    size2,
    proof,
    referenceRoot(ref, BigInt(size1)),
    referenceRoot(ref, BigInt(size2)),
  );
}

describe('tiled Merkle tree against the RFC 6962 reference', () => {
  for (const [seed, total] of [
    [1, 3100],
    [2, 2048],
    [3, 777],
    [4, 4099],
    [5, 1],
    [6, 256],
    [7, 5000],
    [8, 513],
  ] as const) {
    describe(`seed ${seed}, ${total} leaves`, () => {
      let built: Built;
      it('every append: root, the exact set of changed tiles, their content', () => {
        built = build(seed, total);
      });

      it('the store ends with every tile complete and correct', () => {
        const tiles = allTiles(built.store);
        for (const tile of tiles) {
          assert.equal(tile.width, widthAt(tile.level, tile.index, total));
          assertTileMatches(tile, built.ref);
        }
      });

      it('rootAt every earlier size', async () => {
        for (let size = 0; size <= total; size++) {
          assert.deepEqual(
            await rootAt(built.store, size),
            referenceRoot(built.ref, BigInt(size)),
            `size ${size}`,
          );
        }
      });

      it('inclusion proofs: every leaf at the final size, and random (index, size) pairs', async () => {
        for (let index = 0; index < total; index++)
          await assertInclusion(built.store, built.ref, index, total);
        const rand = prng(seed * 7919);
        for (let i = 0; i < 3000; i++) {
          const size = 1 + rand(total);
          await assertInclusion(built.store, built.ref, rand(size), size);
        }
      });

      it("in-memory proofs (inclusionProofsFrom): a batch's new leaves right after it, from the tiles then", () => {
        for (const [stepIndex, snapshot] of built.snapshots) {
          const { size } = built.steps[stepIndex].result;
          const first = stepIndex === 0 ? 0 : built.steps[stepIndex - 1].result.size;
          const indices = Array.from({ length: size - first }, (_, i) => first + i);
          const proofs = inclusionProofsFrom(snapshot, indices, size);
          indices.forEach((index, i) =>
            assert.deepEqual(
              proofs[i],
              referenceInclusion(built.ref, BigInt(index), BigInt(size)),
              `inclusion (${index}, ${size})`,
            ),
          );
        }
        const all = Array.from({ length: total }, (_, i) => i);
        inclusionProofsFrom(built.store, all, total).forEach((proof, index) =>
          assert.deepEqual(proof, referenceInclusion(built.ref, BigInt(index), BigInt(total))),
        );
      });

      it('consistency proofs: every first size to the final size, and random pairs', async () => {
        for (let size1 = 1; size1 <= total; size1++)
          await assertConsistency(built.store, built.ref, size1, total);
        const rand = prng(seed * 104729);
        for (let i = 0; i < 3000; i++) {
          const size2 = 1 + rand(total);
          await assertConsistency(built.store, built.ref, 1 + rand(size2), size2);
        }
      });

      it('resume from a mid-way store snapshot, then continue: identical results', async () => {
        assert.ok(built.snapshots.size > 0);
        for (const [stepIndex, snapshot] of built.snapshots) {
          const size = built.steps[stepIndex].result.size;
          const resumed = await MerkleAppender.resume(size, snapshot);
          assert.equal(resumed.size, size);
          assert.deepEqual(resumed.root(), built.steps[stepIndex].result.root);
          for (const step of built.steps.slice(stepIndex + 1)) {
            const result = resumed.append(step.batch);
            assert.deepEqual(result, step.result, `resumed at ${size}, append to ${step.result.size}`);
          }
        }
      });

      it('resume from the final store (wider tiles than the size needs) at every batch boundary', async () => {
        for (let i = 0; i < built.steps.length; i += 3) {
          const size = built.steps[i].result.size;
          const resumed = await MerkleAppender.resume(size, built.store);
          assert.deepEqual(resumed.root(), built.steps[i].result.root);
          const next = built.steps[i + 1];
          if (next !== undefined) assert.deepEqual(resumed.append(next.batch), next.result);
        }
      });
    });
  }

  it('resume reads only the right-edge tiles, in one batch', async () => {
    const { store, steps } = build(9, 1000);
    const size = steps[steps.length - 1].result.size;
    const calls: Array<readonly { level: number; index: number }[]> = [];
    const spy: TileSource = {
      readTiles: (keys) => {
        calls.push(keys);
        return store.readTiles(keys);
      },
    };
    await MerkleAppender.resume(size, spy);
    const expected = [0, 1, 2]
      .map((level) => ({
        level,
        index: Math.floor(size / 256 ** (level + 1)),
        width: widthAt(level, Math.floor(size / 256 ** (level + 1)), size),
      }))
      .filter((t) => t.width > 0 && t.width < 256);
    assert.equal(calls.length, 1);
    assert.deepEqual(
      calls[0].map((k) => `${k.level}/${k.index}`),
      expected.map((k) => `${k.level}/${k.index}`),
    );
  });

  it('resume fails with INVALID_TILE on a missing or too-narrow right-edge tile', async () => {
    const appender = MerkleAppender.empty();
    const store = new MemoryTileStore();
    store.write(appender.append(Array.from({ length: 600 }, () => randomBytes(32))).tiles);
    const isInvalidTile = (e: unknown): boolean => isVellumError(e, 'INVALID_TILE');
    // 601 needs tile 0/2 at width 89, but only width 88 exists.
    await assert.rejects(MerkleAppender.resume(601, store), isInvalidTile);
    // 1024 needs tile 1/0 at width 4; only width 2 exists.
    await assert.rejects(MerkleAppender.resume(1024, store), isInvalidTile);
    const empty = new MemoryTileStore();
    await assert.rejects(MerkleAppender.resume(5, empty), isInvalidTile);
    const truncated = new MemoryTileStore();
    const edge = store.get(0, 2)!;
    truncated.write([{ ...edge, nodes: edge.nodes.subarray(0, edge.nodes.length - 32) }, store.get(1, 0)!]);
    await assert.rejects(MerkleAppender.resume(600, truncated), isInvalidTile);
    // Size 0 reads nothing.
    assert.equal((await MerkleAppender.resume(0, empty)).size, 0);
  });

  it('proofs fail with INVALID_TILE beyond what the store holds, INVALID_ARGUMENT on bad arguments', async () => {
    const appender = MerkleAppender.empty();
    const store = new MemoryTileStore();
    store.write(appender.append(Array.from({ length: 300 }, () => randomBytes(32))).tiles);
    const code = (c: string) => (e: unknown) => isVellumError(e) && e.code === c;
    await assert.rejects(inclusionProof(store, 3, 301), code('INVALID_TILE'));
    await assert.rejects(consistencyProof(store, 3, 513), code('INVALID_TILE'));
    await assert.rejects(rootAt(store, 1000), code('INVALID_TILE'));
    await assert.rejects(inclusionProof(store, 300, 300), code('INVALID_ARGUMENT'));
    await assert.rejects(inclusionProof(store, 0, 0), code('INVALID_ARGUMENT'));
    await assert.rejects(inclusionProof(store, -1, 5), code('INVALID_ARGUMENT'));
    await assert.rejects(consistencyProof(store, 0, 5), code('INVALID_ARGUMENT'));
    await assert.rejects(consistencyProof(store, 6, 5), code('INVALID_ARGUMENT'));
    await assert.rejects(rootAt(store, 1.5), code('INVALID_ARGUMENT'));
    assert.deepEqual(await consistencyProof(store, 7, 7), []);
    assert.throws(() => appender.append([randomBytes(31)]), code('INVALID_ARGUMENT'));
    assert.equal(appender.size, 300, 'a refused batch appends nothing');
  });

  it('proof hashes are copies: mutating them leaves the store intact', async () => {
    const appender = MerkleAppender.empty();
    const store = new MemoryTileStore();
    store.write(appender.append(Array.from({ length: 50 }, () => randomBytes(32))).tiles);
    const root = appender.root();
    const proof = await inclusionProof(store, 3, 50);
    const original = proof.map((h) => Buffer.from(h));
    for (const h of proof) h.fill(0);
    assert.deepEqual(await inclusionProof(store, 3, 50), original);
    assert.deepEqual(await rootAt(store, 50), root);
  });
});
