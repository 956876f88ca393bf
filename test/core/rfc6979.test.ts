import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { p256 } from '@noble/curves/p256';
import { LogSigningKey } from '../../src/core/keys';
import { rfc6979P256Scalars, signP256Deterministic } from '../../src/core/rfc6979';

test('RFC 6979 A.2.5 (P-256, SHA-256): the nonce and signature of "sample" and "test"', () => {
  const x = Buffer.from('c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721', 'hex');
  const sample = rfc6979P256Scalars(x, Buffer.from('sample'));
  assert.equal(sample.k.toString(16), 'a6e3c57dd01abe90086538398355dd4c3b17aa873382b0f24d6129493d8aad60');
  assert.equal(sample.r.toString(16), 'efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716');
  assert.equal(sample.s.toString(16), 'f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8');
  const t = rfc6979P256Scalars(x, Buffer.from('test'));
  assert.equal(t.k.toString(16), 'd16b6ae827f17175e040871a1c7ec3500192c4c92677336ec2537acaee0008e0');
  assert.equal(t.r.toString(16), 'f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367');
  assert.equal(t.s.toString(16), '19f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083');
});

test('deterministic P-256 signatures are byte-identical to @noble/curves (prehash, low-S, DER) and verify', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (data) => {
      let secret: Uint8Array;
      do secret = randomBytes(32);
      while (!p256.utils.isValidPrivateKey(secret));
      const ours = signP256Deterministic(secret, data);
      const noble = Buffer.from(p256.sign(data, secret, { prehash: true, lowS: true }).toDERRawBytes());
      assert.ok(ours.equals(noble), `${ours.toString('hex')} != ${noble.toString('hex')}`);
      assert.ok(
        p256.verify(ours, data, p256.getPublicKey(secret), { prehash: true, lowS: true, format: 'der' }),
      );
    }),
    { numRuns: 300 },
  );
  // Through the log key: the same bytes twice, and they verify under its public key.
  const key = LogSigningKey.generate('ecdsa-p256');
  const msg = Buffer.from('vellum.test/log\n42\nroot\n');
  const a = key.signDeterministic(msg);
  assert.ok(a.equals(key.signDeterministic(msg)));
  assert.ok(key.publicKey.verify(msg, a));
  assert.throws(() => signP256Deterministic(Buffer.alloc(32), msg), /out of range/);
  assert.throws(() => signP256Deterministic(Buffer.alloc(31, 1), msg), /32 bytes/);
});
