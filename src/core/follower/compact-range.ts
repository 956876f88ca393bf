/**
 * A compact range over [0, size) of an RFC 6962 tree: the roots of the perfect subtrees the range
 * decomposes into, largest (leftmost) first, one per set bit of `size`. Appending a leaf costs one
 * node hash on average, computed in place in one fixed buffer (a scan appends every leaf of a log,
 * so nothing is allocated per leaf); the root folds the list right to left. Small (at most 64 hashes), so it is
 * what the monitors persist to rebuild roots from every entry without keeping the entries.
 */
import { VellumError } from '../errors';
import { EMPTY_ROOT, HASH_SIZE, nodePairHashInto } from '../merkle/hash';

function popcount(n: number): number {
  let c = 0;
  let v = n;
  while (v > 0) {
    c += v % 2;
    v = Math.floor(v / 2);
  }
  return c;
}

export class CompactRange {
  private constructor(
    private n: number,
    /** Subtree roots, leftmost (largest) first, 32 bytes each; `count` of them are in use. */
    private readonly hashes: Buffer,
    private count: number,
  ) {}

  /** One slot per bit of a safe integer size, plus the leaf being appended. */
  private static readonly SLOTS = 54;

  static empty(): CompactRange {
    return new CompactRange(0, Buffer.alloc(CompactRange.SLOTS * HASH_SIZE), 0);
  }

  /** From persisted state; INVALID_ARGUMENT unless there is one 32-byte hash per set bit of size. */
  static from(size: number, hashes: readonly Uint8Array[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new VellumError('INVALID_ARGUMENT', `compact range size ${size} is not a non-negative integer`);
    if (hashes.length !== popcount(size) || hashes.some((h) => h.length !== HASH_SIZE)) {
      throw new VellumError(
        'INVALID_ARGUMENT',
        `compact range of size ${size} needs ${popcount(size)} hashes of 32 bytes`,
      );
    }
    const r = CompactRange.empty();
    hashes.forEach((h, i) => r.hashes.set(h, i * HASH_SIZE));
    r.n = size;
    r.count = hashes.length;
    return r;
  }

  static fromHex(size: number, hex: readonly string[]): CompactRange {
    if (!Array.isArray(hex) || hex.some((h) => typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)))
      throw new VellumError('INVALID_ARGUMENT', 'compact range hashes must be 64 lowercase hex digits');
    return CompactRange.from(
      size,
      hex.map((h) => Buffer.from(h, 'hex')),
    );
  }

  /**
   * The compact range of [0, size) from an inclusion proof of the last leaf (index size-1) in the
   * tree of `size`: such a proof holds exactly the left siblings, i.e. the subtrees of [0, size-1),
   * smallest first. The caller has verified the proof against a signed root.
   */
  static fromLastLeafProof(size: number, lastLeaf: Uint8Array, proof: readonly Uint8Array[]): CompactRange {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new VellumError('INVALID_ARGUMENT', 'size must be >= 1');
    const r = CompactRange.from(size - 1, [...proof].reverse());
    r.append(lastLeaf);
    return r;
  }

  get size(): number {
    return this.n;
  }

  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_SIZE)
      throw new VellumError('INVALID_ARGUMENT', 'leaf hash must be 32 bytes');
    if (this.n >= Number.MAX_SAFE_INTEGER)
      throw new VellumError('INVALID_ARGUMENT', 'compact range is at the largest safe size');
    const h = this.hashes;
    h.set(leafHash, this.count * HASH_SIZE);
    // Each trailing 1-bit of n is a perfect subtree that the new leaf's subtree now completes:
    // the parent of the last two slots replaces the left one.
    let top = this.count;
    let n = this.n;
    while (n % 2 === 1) {
      top--;
      nodePairHashInto(h, top * HASH_SIZE, h, (top + 1) * HASH_SIZE, h, top * HASH_SIZE);
      n = Math.floor(n / 2);
    }
    this.count = top + 1;
    this.n += 1;
  }

  root(): Buffer {
    if (this.count === 0) return Buffer.from(EMPTY_ROOT);
    const r = Buffer.from(this.hash(this.count - 1));
    for (let i = this.count - 2; i >= 0; i--) nodePairHashInto(this.hashes, i * HASH_SIZE, r, 0, r, 0);
    return r;
  }

  toHex(): string[] {
    return Array.from({ length: this.count }, (_, i) => this.hash(i).toString('hex'));
  }

  clone(): CompactRange {
    return new CompactRange(this.n, Buffer.from(this.hashes), this.count);
  }

  private hash(i: number): Buffer {
    return this.hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }
}
