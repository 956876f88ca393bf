/**
 * RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) verification, with the edge-case rules
 * of transparency-dev/merkle, whose test vectors encode them.
 *
 * fn/sn are the node positions of the leaf (or old tree edge) and of the last leaf as the walk
 * climbs. They can exceed 2^31, so "right-shift" is Math.floor(x / 2) and "LSB set" is x % 2 === 1.
 */
import { VellumError } from '../errors';
import { HASH_SIZE, nodeHash } from './hash';

function invalidProof(message: string): never {
  throw new VellumError('INVALID_PROOF', message);
}

function requireSize(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new VellumError('INVALID_ARGUMENT', `${name} must be a safe integer >= ${min}, got ${value}`);
  }
}

function requireHashes(proof: readonly Uint8Array[]): void {
  for (const hash of proof) {
    if (hash.length !== HASH_SIZE) invalidProof(`proof hash of ${hash.length} bytes, want ${HASH_SIZE}`);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const isOdd = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

/** Exact for every safe integer, unlike Math.log2, which rounds 2^50 + 1 to 50. */
function isPowerOfTwo(x: number): boolean {
  let v = x;
  while (v > 1 && !isOdd(v)) v = half(v);
  return v === 1;
}

/** The root an inclusion proof implies for leafHash at index in a tree of size; INVALID_PROOF if malformed. */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Buffer {
  requireSize('tree size', size, 1);
  requireSize('leaf index', index, 0);
  if (index >= size) {
    throw new VellumError('INVALID_ARGUMENT', `leaf index ${index} is not below tree size ${size}`);
  }
  if (leafHash.length !== HASH_SIZE) invalidProof(`leaf hash of ${leafHash.length} bytes, want ${HASH_SIZE}`);
  requireHashes(proof);

  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (sn === 0) invalidProof('inclusion proof is too long');
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // Levels where this node has no right sibling add nothing to the proof: skip them.
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) invalidProof('inclusion proof is too short');
  return r;
}

/** Throws INVALID_PROOF unless proof shows leafHash at index in the tree of size with this root. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  const computed = rootFromInclusionProof(leafHash, index, size, proof);
  if (!equalBytes(computed, root)) invalidProof('inclusion proof does not lead to the expected root');
}

/**
 * Throws INVALID_PROOF unless proof shows the tree of size1 with root1 is a prefix of the tree of
 * size2 with root2. size1 = 0 is refused (as Rekor's /api/v1/log/proof does); equal sizes need an
 * empty proof and byte-identical roots, whatever their length.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  requireSize('first size', size1, 1);
  requireSize('second size', size2, 1);
  if (size1 > size2) {
    throw new VellumError('INVALID_ARGUMENT', `first size ${size1} is greater than second size ${size2}`);
  }
  if (size1 === size2) {
    if (proof.length !== 0) invalidProof('consistency proof between equal sizes must be empty');
    if (!equalBytes(root1, root2)) invalidProof('equal sizes with different roots');
    return;
  }
  if (proof.length === 0) invalidProof('consistency proof is empty');
  requireHashes(proof);
  if (root1.length !== HASH_SIZE || root2.length !== HASH_SIZE) invalidProof('roots must be 32 bytes');

  // When size1 is a power of two the old root is itself the first node of the path, and is omitted.
  const path: readonly Uint8Array[] = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr: Buffer = Buffer.from(path[0]);
  let sr: Buffer = Buffer.from(path[0]);
  for (let i = 1; i < path.length; i++) {
    const c = path[i];
    if (sn === 0) invalidProof('consistency proof is too long');
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) invalidProof('consistency proof is too short');
  if (!equalBytes(fr, root1)) invalidProof('consistency proof does not lead to the first root');
  if (!equalBytes(sr, root2)) invalidProof('consistency proof does not lead to the second root');
}
