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
