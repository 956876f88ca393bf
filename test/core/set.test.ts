import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verify as nodeVerify, createPublicKey } from 'node:crypto';
import { setPayload, signSet, verifySet, type SetFields } from '../../src/core/set';
import { LogSigningKey } from '../../src/core/keys';
import { isVellumError } from '../../src/core/errors';
import { canonicalBytes } from '../../src/core/jcs';
import fc from 'fast-check';

const invalidSet = (e: unknown) => isVellumError(e, 'INVALID_SET');
const invalidArg = (e: unknown) => isVellumError(e, 'INVALID_ARGUMENT');
const LOG_ID = 'c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d';
const fields: SetFields = {
  body: 'eyJhIjoxfQ==',
  integratedTime: 1710888076,
  logID: LOG_ID,
  logIndex: 79605083,
};

describe('SET', () => {
  it('payload equals the JCS canonicalization of the four fields, for any valid fields', () => {
    const b64 = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b).toString('base64'));
    const hex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
    const int = fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER));
    fc.assert(
      fc.property(b64, int, hex, int, (body, integratedTime, logID, logIndex) => {
        const f = { body, integratedTime, logID, logIndex };
        assert.deepEqual(setPayload(f), canonicalBytes(f));
      }),
      { numRuns: 300 },
    );
  });

  it('payload is exactly the JCS object, logID before logIndex, extra properties dropped', () => {
    const want = `{"body":"eyJhIjoxfQ==","integratedTime":1710888076,"logID":"${LOG_ID}","logIndex":79605083}`;
    assert.equal(setPayload(fields).toString('utf8'), want);
    const noisy = {
      verification: { x: 1 },
      logIndex: 79605083,
      logID: LOG_ID,
      integratedTime: 1710888076,
      body: 'eyJhIjoxfQ==',
    };
    assert.equal(setPayload(noisy).toString('utf8'), want);
    assert.equal(
      setPayload({ ...fields, logIndex: 0, integratedTime: 0 }).toString(),
      want.replace('1710888076', '0').replace('79605083', '0'),
    );
  });

  it('payload rejects malformed fields', () => {
    for (const bad of [
      { ...fields, body: '' },
      { ...fields, body: 'eyJhIjoxfQ' },
      { ...fields, body: 'eyJh Ijox' },
      { ...fields, body: 'eyJhIjoxfQ-_' },
      { ...fields, body: 'eyJhIjoxfR==' }, // non-canonical trailing bits
      { ...fields, logID: LOG_ID.toUpperCase() },
      { ...fields, logID: LOG_ID.slice(2) },
      { ...fields, logIndex: -1 },
      { ...fields, logIndex: 1.5 },
      { ...fields, logIndex: 2 ** 53 },
      { ...fields, integratedTime: -1 },
      { ...fields, integratedTime: Number.NaN },
      { ...fields, logIndex: '1' as unknown as number },
    ]) {
      assert.throws(() => setPayload(bad), invalidArg, JSON.stringify(bad));
      assert.throws(() => verifySet(LogSigningKey.generate().publicKey, bad, Buffer.alloc(70)), invalidSet);
    }
  });

  for (const alg of ['ecdsa-p256', 'ed25519'] as const) {
    it(`${alg}: sign/verify round trip; any changed field, key or signature byte fails`, () => {
      const key = LogSigningKey.generate(alg);
      const f = { ...fields, logID: key.publicKey.logIdHex };
      const sig = signSet(key, f);
      verifySet(key.publicKey, f, sig);
      // What sigstore-js does: crypto.verify with no digest name over the JCS bytes.
      assert.ok(
        nodeVerify(
          alg === 'ed25519' ? null : 'sha256',
          setPayload(f),
          createPublicKey(key.publicKey.pem),
          sig,
        ),
      );
      for (const changed of [
        { ...f, body: 'eyJhIjoyfQ==' },
        { ...f, integratedTime: f.integratedTime + 1 },
        { ...f, logIndex: f.logIndex - 1 },
        { ...f, logID: LOG_ID },
      ]) {
        assert.throws(() => verifySet(key.publicKey, changed, sig), invalidSet);
      }
      const flipped = Buffer.from(sig);
      flipped[flipped.length - 3] ^= 0x04;
      assert.throws(() => verifySet(key.publicKey, f, flipped), invalidSet);
      assert.throws(() => verifySet(key.publicKey, f, Buffer.alloc(0)), invalidSet);
      assert.throws(() => verifySet(LogSigningKey.generate(alg).publicKey, f, sig), invalidSet);
    });
  }
});
