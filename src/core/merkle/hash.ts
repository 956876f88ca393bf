/**
 * RFC 6962 / RFC 9162 §2.1 hashing: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right).
 *
 * Interior nodes are hashed by a small SHA-256 written here rather than by node:crypto. Every call
 * into node:crypto costs about a microsecond of binding overhead plus a fresh output Buffer, which is
 * several times the work of hashing 65 bytes; the in-process version runs about twice as fast and
 * writes its digest straight into the caller's (tile) buffer, so the append path allocates nothing
 * per hash. It is checked against node:crypto for every message length in test/core/merkle-hash.test.ts,
 * and every Merkle test compares against a reference built on node:crypto alone.
 */
import { createHash, hash as oneShotHash } from 'node:crypto';
import { VellumError } from '../errors';

export const HASH_SIZE = 32;

/** MTH({}) = SHA-256 of the empty string (RFC 6962 §2.1). */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/**
 * Messages (prefix byte included) that fit in three padded blocks go through the in-process
 * SHA-256; longer ones through OpenSSL, whose SHA-NI throughput wins once its per-call overhead is
 * spread over four or more blocks (measured crossover on this machine's 2 cores).
 */
const SMALL_MESSAGE_LIMIT = 3 * 64 - 9;

// prettier-ignore
const ROUND_CONSTANTS = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
// prettier-ignore
const INITIAL_STATE = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

// Shared scratch: JavaScript is single-threaded and none of these functions re-enter.
const schedule = new Int32Array(64);
const state = new Int32Array(8);
/** The padded message, at most SMALL_MESSAGE_LIMIT + 9 bytes rounded up to whole blocks. */
const messageBlocks = new Uint8Array(Math.ceil((SMALL_MESSAGE_LIMIT + 9) / 64) * 64);

/** One SHA-256 compression of the block already loaded into schedule[0..15], into `state`. */
function compress(): void {
  const w = schedule;
  for (let t = 16; t < 64; t++) {
    const w15 = w[t - 15];
    const w2 = w[t - 2];
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    w[t] = (s1 + w[t - 7] + s0 + w[t - 16]) | 0;
  }
  let a = state[0];
  let b = state[1];
  let c = state[2];
  let d = state[3];
  let e = state[4];
  let f = state[5];
  let g = state[6];
  let h = state[7];
  for (let t = 0; t < 64; t++) {
    const sigma1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const choose = (e & f) ^ (~e & g);
    const t1 = (h + sigma1 + choose + ROUND_CONSTANTS[t] + w[t]) | 0;
    const sigma0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const majority = (a & b) ^ (a & c) ^ (b & c);
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + sigma0 + majority) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
  state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0;
  state[7] = (state[7] + h) | 0;
}

/**
 * SHA-256(prefix || src[srcOffset, srcOffset + length)) into dst[dstOffset, dstOffset + 32), for
 * length + 1 <= SMALL_MESSAGE_LIMIT. The 32-bit operations here are SHA-256's own word arithmetic;
 * no index or size passes through them.
 */
function prefixedSha256Into(
  prefix: number,
  src: Uint8Array,
  srcOffset: number,
  length: number,
  dst: Uint8Array,
  dstOffset: number,
): void {
  const m = messageBlocks;
  const messageLength = length + 1;
  const blockCount = Math.ceil((messageLength + 9) / 64);
  const paddedLength = blockCount * 64;
  m[0] = prefix;
  for (let i = 0; i < length; i++) m[i + 1] = src[srcOffset + i];
  m[messageLength] = 0x80;
  m.fill(0, messageLength + 1, paddedLength - 4);
  const bitLength = messageLength * 8;
  m[paddedLength - 4] = bitLength >>> 24;
  m[paddedLength - 3] = (bitLength >>> 16) & 0xff;
  m[paddedLength - 2] = (bitLength >>> 8) & 0xff;
  m[paddedLength - 1] = bitLength & 0xff;

  state.set(INITIAL_STATE);
  const w = schedule;
  for (let block = 0; block < blockCount; block++) {
    for (let t = 0, o = block * 64; t < 16; t++, o += 4) {
      w[t] = (m[o] << 24) | (m[o + 1] << 16) | (m[o + 2] << 8) | m[o + 3];
    }
    compress();
  }
  writeDigest(dst, dstOffset);
}

function writeDigest(dst: Uint8Array, dstOffset: number): void {
  for (let i = 0, o = dstOffset; i < 8; i++, o += 4) {
    const word = state[i];
    dst[o] = word >>> 24;
    dst[o + 1] = (word >>> 16) & 0xff;
    dst[o + 2] = (word >>> 8) & 0xff;
    dst[o + 3] = word & 0xff;
  }
}

/** 0x01 || 64 bytes is 65 bytes + 0x80 + 8-byte length: two blocks whose second is constant but for byte 0. */
const NODE_MESSAGE_BITS = (1 + 2 * HASH_SIZE) * 8;

/** RFC 6962 leaf hash: SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Buffer {
  if (data.length + 1 > SMALL_MESSAGE_LIMIT) {
    // One-shot hash of prefix || data copied into a reused buffer: a createHash object per leaf
    // costs three binding calls and a native handle the GC must finalize, which dominated
    // scanning a log (hundreds of thousands of leaves) more than the hashing itself. The digest
    // comes back as a 'binary' (latin1) string, one byte per char and lossless, because a Buffer
    // made from a string is a slice of Node's shared pool, where a 'buffer' digest is a fresh
    // ArrayBuffer per leaf. Beyond the scratch size the call overhead is lost in the hashing.
    if (data.length + 1 > LEAF_SCRATCH_SIZE)
      return createHash('sha256').update(LEAF_PREFIX_BYTES).update(data).digest();
    leafScratch[0] = LEAF_PREFIX;
    leafScratch.set(data, 1);
    return Buffer.from(oneShotHash('sha256', leafScratch.subarray(0, data.length + 1), 'binary'), 'latin1');
  }
  const out = Buffer.allocUnsafe(HASH_SIZE);
  prefixedSha256Into(LEAF_PREFIX, data, 0, data.length, out, 0);
  return out;
}
/** Holds prefix || data of leaves too long for the in-process SHA-256 (a C2SP bundle's largest). */
const LEAF_SCRATCH_SIZE = 1 + 0xffff;
const leafScratch = Buffer.allocUnsafe(LEAF_SCRATCH_SIZE);
const LEAF_PREFIX_BYTES = new Uint8Array([LEAF_PREFIX]);

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). Both inputs must be 32 bytes. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    throw new VellumError('INVALID_ARGUMENT', `node hash inputs must be ${HASH_SIZE} bytes`);
  }
  const out = Buffer.allocUnsafe(HASH_SIZE);
  nodePairHashInto(left, 0, right, 0, out, 0);
  return out;
}

/**
 * SHA-256(0x01 || src[srcOffset, srcOffset + 64)) written to dst[dstOffset, dstOffset + 32): the
 * parent of two sibling hashes stored side by side, as they are inside a tile. src and dst may be the
 * same buffer, even overlapping (the input is fully read before the digest is written).
 */
export function nodeHashInto(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): void {
  nodePairHashInto(src, srcOffset, src, srcOffset + HASH_SIZE, dst, dstOffset);
}

/**
 * SHA-256(0x01 || left[leftOffset, +32) || right[rightOffset, +32)) written to dst[dstOffset, +32);
 * dst may overlap either input.
 */
export function nodePairHashInto(
  left: Uint8Array,
  leftOffset: number,
  right: Uint8Array,
  rightOffset: number,
  dst: Uint8Array,
  dstOffset: number,
): void {
  // The hottest function of the append path: the words are loaded straight from the inputs, with
  // no copy into messageBlocks. The prefix byte shifts everything by one byte, so each 32-byte
  // input straddles word boundaries and its last byte spills into the next word (or block).
  const w = schedule;
  const l = left;
  const r = right;
  let o = leftOffset;
  state.set(INITIAL_STATE);
  w[0] = (NODE_PREFIX << 24) | (l[o] << 16) | (l[o + 1] << 8) | l[o + 2];
  for (let t = 1, i = o + 3; t < 8; t++, i += 4)
    w[t] = (l[i] << 24) | (l[i + 1] << 16) | (l[i + 2] << 8) | l[i + 3];
  o = rightOffset;
  w[8] = (l[leftOffset + 31] << 24) | (r[o] << 16) | (r[o + 1] << 8) | r[o + 2];
  for (let t = 9, i = o + 3; t < 16; t++, i += 4)
    w[t] = (r[i] << 24) | (r[i + 1] << 16) | (r[i + 2] << 8) | r[i + 3];
  compress();
  w[0] = (r[o + 31] << 24) | 0x00800000;
  w.fill(0, 1, 15);
  w[15] = NODE_MESSAGE_BITS;
  compress();
  writeDigest(dst, dstOffset);
}
