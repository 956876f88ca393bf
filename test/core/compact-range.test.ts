/** The core CompactRange (what the follower rebuilds roots with) against the core appender. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompactRange } from '../../src/core/follower/compact-range';
import { MerkleAppender } from '../../src/core/merkle/appender';
import { leafHash } from '../../src/core/merkle/hash';

test('compact range gives the RFC 6962 root at every size and resumes from a last-leaf proof', () => {
  const leaves = Array.from({ length: 300 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
  const r = CompactRange.empty();
  for (let n = 1; n <= leaves.length; n++) {
    r.append(leaves[n - 1]!);
    const ref = MerkleAppender.empty().append(leaves.slice(0, n)).root;
    assert.ok(r.root().equals(ref), `root at size ${n}`);
  }
  const copy = CompactRange.fromHex(r.size, r.toHex());
  assert.ok(copy.root().equals(r.root()));
  assert.throws(() => CompactRange.fromHex(5, []));
  // A tampered leaf changes the rebuilt root.
  const bad = CompactRange.empty();
  leaves.forEach((l, i) => bad.append(i === 7 ? leafHash(Buffer.from('rewritten')) : l));
  assert.ok(!bad.root().equals(r.root()));
});

test('compact range state is its own: inputs, clones and returned roots do not alias it', () => {
  const leaves = Array.from({ length: 77 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
  const rootOf = (n: number) => MerkleAppender.empty().append(leaves.slice(0, n)).root;
  const r = CompactRange.empty();
  for (const l of leaves.slice(0, 40)) {
    const given = Buffer.from(l);
    r.append(given);
    given.fill(0xff); // the caller reusing its buffer must not change the range
  }
  assert.ok(r.root().equals(rootOf(40)));
  const c = r.clone();
  for (const l of leaves.slice(40)) c.append(l);
  assert.ok(c.root().equals(rootOf(77)));
  assert.ok(r.root().equals(rootOf(40)), 'appending to a clone leaves the original alone');
  r.root().fill(0);
  assert.ok(r.root().equals(rootOf(40)), 'a returned root is a copy');
  const hashes = r.toHex().map((h) => Buffer.from(h, 'hex'));
  const restored = CompactRange.from(40, hashes);
  hashes[0]!.fill(0);
  assert.ok(restored.root().equals(rootOf(40)), 'from() copies its input');
  assert.throws(() => CompactRange.from(Number.MAX_SAFE_INTEGER + 1, []));
});
