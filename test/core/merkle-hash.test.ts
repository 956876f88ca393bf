/** The in-process SHA-256 behind leafHash/nodeHash/nodeHashInto against node:crypto. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';

import { isVellumError } from '../../src/core/errors';
import { EMPTY_ROOT, HASH_SIZE, leafHash, nodeHash, nodeHashInto } from '../../src/core/merkle/hash';

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('RFC 6962 hashing', () => {
  it('EMPTY_ROOT is SHA-256 of the empty string', () => {
    assert.equal(HASH_SIZE, 32);
    assert.equal(
      EMPTY_ROOT.toString('hex'),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });

  it('leafHash = SHA-256(0x00 || data) for every length 0..600 (both hashing paths and all padding cases)', () => {
    for (let length = 0; length <= 600; length++) {
      const data = randomBytes(length);
      assert.deepEqual(leafHash(data), sha256(Buffer.from([0]), data), `length ${length}`);
    }
  });

  it('leafHash of long inputs and of a view into a larger buffer', () => {
    const big = randomBytes(100_000);
    assert.deepEqual(leafHash(big), sha256(Buffer.from([0]), big));
    const view = big.subarray(17, 17 + 70);
    assert.deepEqual(leafHash(view), sha256(Buffer.from([0]), view));
  });

  it('long leaves of shrinking and growing lengths: the reused prefix buffer never leaks old bytes', () => {
    const digests: Array<[Buffer, Buffer]> = [];
    for (const length of [70_000, 5000, 184, 65_535, 65_534, 65_536, 4097, 300, 200_000, 190]) {
      const data = randomBytes(length);
      const got = leafHash(data);
      assert.deepEqual(got, sha256(Buffer.from([0]), data), `length ${length}`);
      digests.push([got, sha256(Buffer.from([0]), data)]);
    }
    // Each digest is its own buffer, not a view of shared scratch.
    for (const [got, want] of digests) assert.deepEqual(got, want);
  });

  it('nodeHash = SHA-256(0x01 || left || right)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (l, r) => {
          assert.deepEqual(nodeHash(l, r), sha256(Buffer.from([1]), l, r));
        },
      ),
      { numRuns: 2000, endOnFailure: true },
    );
  });

  it('nodeHash refuses inputs that are not 32 bytes', () => {
    assert.throws(
      () => nodeHash(new Uint8Array(31), new Uint8Array(32)),
      (e) => isVellumError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => nodeHash(new Uint8Array(32), new Uint8Array(33)),
      (e) => isVellumError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('nodeHashInto hashes 64 bytes at any offset into any offset, including in place and overlapping', () => {
    for (let i = 0; i < 500; i++) {
      const buffer = randomBytes(200);
      const srcOffset = i % 130;
      const dstOffset = (i * 7) % 160;
      const expected = sha256(Buffer.from([1]), buffer.subarray(srcOffset, srcOffset + 64));
      const before = Buffer.from(buffer);
      nodeHashInto(buffer, srcOffset, buffer, dstOffset);
      assert.deepEqual(buffer.subarray(dstOffset, dstOffset + 32), expected);
      // Nothing outside the 32 destination bytes moves.
      assert.deepEqual(buffer.subarray(0, dstOffset), before.subarray(0, dstOffset));
      assert.deepEqual(buffer.subarray(dstOffset + 32), before.subarray(dstOffset + 32));
    }
  });

  it('returned digests are not overwritten by later calls', () => {
    const a = randomBytes(100);
    const first = leafHash(a);
    const [l, r] = [randomBytes(32), randomBytes(32)];
    const node = nodeHash(l, r);
    leafHash(randomBytes(10));
    nodeHash(randomBytes(32), randomBytes(32));
    assert.deepEqual(first, sha256(Buffer.from([0]), a));
    assert.deepEqual(node, sha256(Buffer.from([1]), l, r));
  });
});
