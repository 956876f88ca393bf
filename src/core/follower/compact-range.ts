/**
 * A compact range over [0, size) of an RFC 6962 tree: the roots of the perfect subtrees the range
 * decomposes into, largest (leftmost) first, one per set bit of `size`. Appending a leaf costs one
 * node hash on average; the root folds the list right to left. Small (at most 64 hashes), so it is
 * what the monitors persist to rebuild roots from every entry without keeping the entries.
 */
import { VellumError } from '../errors';
import { EMPTY_ROOT, HASH_SIZE, nodeHash } from '../merkle/hash';

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
    /** Subtree roots, leftmost (largest) first. */
    private readonly hashes: Buffer[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
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
    return new CompactRange(
      size,
      hashes.map((h) => Buffer.from(h)),
    );
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
    let h: Buffer = Buffer.from(leafHash);
    // Each trailing 1-bit of n is a perfect subtree that the new leaf's subtree now completes.
    let n = this.n;
    while (n % 2 === 1) {
      h = nodeHash(this.hashes.pop()!, h);
      n = Math.floor(n / 2);
    }
    this.hashes.push(h);
    this.n += 1;
  }

  root(): Buffer {
    if (this.hashes.length === 0) return Buffer.from(EMPTY_ROOT);
    let r = this.hashes[this.hashes.length - 1]!;
    for (let i = this.hashes.length - 2; i >= 0; i--) r = nodeHash(this.hashes[i]!, r);
    return r;
  }

  toHex(): string[] {
    return this.hashes.map((h) => h.toString('hex'));
  }

  clone(): CompactRange {
    return new CompactRange(
      this.n,
      this.hashes.map((h) => Buffer.from(h)),
    );
  }
}
