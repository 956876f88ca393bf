/**
 * A slow, obviously-correct RFC 6962 oracle: MTH, PATH and PROOF written as the RFC's recursions
 * (§2.1, §2.1.1, §2.1.2), over BigInt leaf ranges so that no index arithmetic can overflow, with
 * hashes from node:crypto only (never from src/core).
 *
 * The recursions produce *ranges* [start, end) of leaves; a RangeHasher turns a range into its MTH.
 * ListTree hashes explicit leaves; SparseTree hashes trees of any size up to 2^53 whose leaves are
 * all one filler value except a few, which is enough to exercise huge indices exactly.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

export type Range = readonly [start: bigint, end: bigint];

export function refLeafHash(data: Uint8Array): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0]))
    .update(data)
    .digest();
}

export function refNodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256')
    .update(Buffer.from([1]))
    .update(left)
    .update(right)
    .digest();
}

export const REF_EMPTY_ROOT = createHash('sha256').digest();

/** The largest power of two strictly less than n (n >= 2): RFC 6962's split point k. */
export function splitPoint(n: bigint): bigint {
  let k = 1n;
  while (k * 2n < n) k *= 2n;
  return k;
}

/** PATH(m, D[start:end]) as the ranges whose MTHs form it, leaf to root. */
export function pathRanges(m: bigint, start: bigint, end: bigint): Range[] {
  const n = end - start;
  if (n === 1n) return [];
  const k = splitPoint(n);
  if (m < k) return [...pathRanges(m, start, start + k), [start + k, end]];
  return [...pathRanges(m - k, start + k, end), [start, start + k]];
}

/** SUBPROOF(m, D[start:end], b) as ranges. */
function subproofRanges(m: bigint, start: bigint, end: bigint, b: boolean): Range[] {
  const n = end - start;
  if (m === n) return b ? [] : [[start, end]];
  const k = splitPoint(n);
  if (m <= k) return [...subproofRanges(m, start, start + k, b), [start + k, end]];
  return [...subproofRanges(m - k, start + k, end, false), [start, start + k]];
}

/** PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true), as ranges. */
export function proofRanges(m: bigint, n: bigint): Range[] {
  return subproofRanges(m, 0n, n, true);
}

export interface RangeHasher {
  /** MTH(D[start:end]); start < end. */
  mth(start: bigint, end: bigint): Buffer;
}

/** RFC 6962 MTH of a range, by the recursion, with answers remembered by range. */
abstract class MemoHasher implements RangeHasher {
  private readonly memo = new Map<string, Buffer>();

  protected abstract leaf(index: bigint): Buffer;

  mth(start: bigint, end: bigint): Buffer {
    if (end - start === 1n) return this.leaf(start);
    const key = `${start}:${end}`;
    let hash = this.memo.get(key);
    if (hash === undefined) {
      const k = splitPoint(end - start);
      hash = this.computeSplit(start, start + k, end);
      this.memo.set(key, hash);
    }
    return hash;
  }

  protected computeSplit(start: bigint, middle: bigint, end: bigint): Buffer {
    return refNodeHash(this.mth(start, middle), this.mth(middle, end));
  }
}

/** A tree over explicit leaf hashes (leaves may be added at any time). */
export class ListTree extends MemoHasher {
  readonly leaves: Buffer[] = [];

  add(leafHashes: readonly Buffer[]): void {
    for (const h of leafHashes) this.leaves.push(h);
  }

  protected leaf(index: bigint): Buffer {
    const h = this.leaves[Number(index)];
    if (h === undefined) throw new Error(`reference tree has no leaf ${index}`);
    return h;
  }
}

/**
 * Leaves are `filler` except at the indices in `special`. The MTH of a range holding no special
 * leaf depends only on its length, so any range of any size costs O(log^2) hashes.
 */
export class SparseTree extends MemoHasher {
  private readonly special: ReadonlyMap<bigint, Buffer>;
  private readonly specialIndices: bigint[];
  private readonly uniform = new Map<bigint, Buffer>();

  constructor(
    private readonly filler: Buffer,
    special: ReadonlyMap<bigint, Buffer>,
  ) {
    super();
    this.special = special;
    this.specialIndices = [...special.keys()];
  }

  leafAt(index: bigint): Buffer {
    return this.leaf(index);
  }

  protected leaf(index: bigint): Buffer {
    return this.special.get(index) ?? this.filler;
  }

  override mth(start: bigint, end: bigint): Buffer {
    if (this.specialIndices.some((i) => i >= start && i < end)) return super.mth(start, end);
    return this.uniformMth(end - start);
  }

  private uniformMth(length: bigint): Buffer {
    if (length === 1n) return this.filler;
    let hash = this.uniform.get(length);
    if (hash === undefined) {
      const k = splitPoint(length);
      hash = refNodeHash(this.uniformMth(k), this.uniformMth(length - k));
      this.uniform.set(length, hash);
    }
    return hash;
  }
}

export function referenceRoot(tree: RangeHasher, size: bigint): Buffer {
  return size === 0n ? REF_EMPTY_ROOT : tree.mth(0n, size);
}

export function referenceInclusion(tree: RangeHasher, index: bigint, size: bigint): Buffer[] {
  return pathRanges(index, 0n, size).map(([s, e]) => tree.mth(s, e));
}

export function referenceConsistency(tree: RangeHasher, size1: bigint, size2: bigint): Buffer[] {
  return proofRanges(size1, size2).map(([s, e]) => tree.mth(s, e));
}

/**
 * The leaf range of node (height, index) of the C2SP tile (level, tileIndex): tile hash i at level l
 * is MTH(D[(n*256 + i) * 256^l : (n*256 + i + 1) * 256^l]); its interior node at sublevel r,
 * position p covers 2^r consecutive such hashes.
 */
export function tileNodeRange(level: number, tileIndex: number, sublevel: number, position: number): Range {
  const levelSpan = 256n ** BigInt(level);
  const first = BigInt(tileIndex) * 256n + BigInt(position) * 2n ** BigInt(sublevel);
  const last = first + 2n ** BigInt(sublevel);
  return [first * levelSpan, last * levelSpan];
}

/** Asserts every stored hash of `tile` (C2SP bytes, then interior nodes) equals the reference MTH. */
export function assertTileMatches(
  tile: { readonly level: number; readonly index: number; readonly width: number; readonly nodes: Buffer },
  ref: RangeHasher,
): void {
  let offset = 0;
  for (let sublevel = 0; sublevel < 8; sublevel++) {
    const count = Math.floor(tile.width / 2 ** sublevel);
    for (let p = 0; p < count; p++, offset += 32) {
      const [s, e] = tileNodeRange(tile.level, tile.index, sublevel, p);
      assert.deepEqual(
        tile.nodes.subarray(offset, offset + 32),
        ref.mth(s, e),
        `tile ${tile.level}/${tile.index} width ${tile.width} sublevel ${sublevel} position ${p}`,
      );
    }
  }
  assert.equal(tile.nodes.length, offset, `tile ${tile.level}/${tile.index} node byte count`);
}

/** A small deterministic PRNG (mulberry32): rand(n) is uniform in [0, n), n <= 2^32; failures name a seed. */
export function prng(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}
