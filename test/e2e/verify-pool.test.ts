import assert from 'node:assert/strict';
import { createHash, randomBytes, sign } from 'node:crypto';
import { describe, test } from 'node:test';
import { isVellumError } from '../../src/core/errors';
import { loadConfig } from '../../src/modules/config/config';
import { VerifyPool } from '../../src/modules/entries/verify-pool';
import { hashedrekord, newP256Key } from './fixtures';

/** The worker-thread pool on its own: same answers as in-thread, survives a dying worker. */
describe('VerifyPool', () => {
  const key = newP256Key();
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));

  for (const workers of [2, 0]) {
    test(`prepares entries and reports core errors with their codes (VERIFY_WORKERS=${workers})`, async () => {
      const pool = new VerifyPool(loadConfig({ VERIFY_WORKERS: String(workers) }, '/tmp'));
      try {
        const fx = Array.from({ length: 50 }, () => hashedrekord(key));
        const prepared = await Promise.all(fx.map((f) => pool.prepare(json(f.proposed))));
        prepared.forEach((p, i) => {
          assert.equal(p.kind, 'hashedrekord');
          assert.ok(Buffer.isBuffer(p.body) && Buffer.isBuffer(p.leafHash));
          assert.ok(p.body.equals(fx[i].canonical), 'canonical body survives the thread hop');
          assert.equal(p.leafHash.length, 32);
        });
        const bad = JSON.parse(JSON.stringify(fx[0].proposed));
        bad.kind = 'nope';
        await assert.rejects(pool.prepare(json(bad)), (e) => isVellumError(e, 'UNSUPPORTED_KIND'));
        delete bad.kind;
        await assert.rejects(
          pool.prepare(json(bad)),
          (e) => isVellumError(e, 'SCHEMA_VIOLATION') && e.details?.apiCode === 602,
        );
        await assert.rejects(pool.prepare(Buffer.from('{oops')), (e) => isVellumError(e, 'INVALID_ARGUMENT'));
        // A pooled (small) Buffer must be copied, not transferred: the caller's bytes stay intact.
        const small = json(fx[1].proposed);
        const copy = Buffer.from(small);
        await pool.prepare(small);
        if (workers > 0) assert.ok(small.equals(copy));
      } finally {
        await pool.onModuleDestroy();
      }
    });
  }

  for (const workers of [2, 0]) {
    test(`prepares Rekor v2 requests off the event loop, the same as in-thread (VERIFY_WORKERS=${workers})`, async () => {
      const pool = new VerifyPool(loadConfig({ VERIFY_WORKERS: String(workers) }, '/tmp'));
      try {
        const reqs = Array.from({ length: 20 }, () => {
          const data = randomBytes(16);
          return {
            hashedRekordRequestV002: {
              digest: createHash('sha256').update(data).digest('base64'),
              signature: {
                content: sign('sha256', data, key.privateKey).toString('base64'),
                verifier: {
                  publicKey: { rawBytes: key.der.toString('base64') },
                  keyDetails: 'PKIX_ECDSA_P256_SHA_256',
                },
              },
            },
          };
        });
        const prepared = await Promise.all(reqs.map((r) => pool.prepareV2(json(r))));
        prepared.forEach((p, i) => {
          assert.deepEqual([p.kind, p.apiVersion], ['hashedrekord', '0.0.2']);
          const body = JSON.parse(p.body.toString()).spec.hashedRekordV002;
          assert.equal(body.data.digest, reqs[i]!.hashedRekordRequestV002.digest);
          assert.ok(
            p.leafHash.equals(
              createHash('sha256')
                .update(Buffer.from([0]))
                .update(p.body)
                .digest(),
            ),
          );
        });
        // The v1 parser is not applied to a v2 request, nor the v2 parser to a v1 entry.
        await assert.rejects(pool.prepare(json(reqs[0])), (e) => isVellumError(e, 'SCHEMA_VIOLATION'));
        await assert.rejects(pool.prepareV2(json(hashedrekord(key).proposed)), (e) =>
          isVellumError(e, 'INVALID_ENTRY'),
        );
        await assert.rejects(pool.prepareV2(Buffer.from('[')), (e) => isVellumError(e, 'INVALID_ARGUMENT'));
      } finally {
        await pool.onModuleDestroy();
      }
    });
  }

  test('a worker that dies fails its in-flight entries with UNAVAILABLE and is replaced', async () => {
    const pool = new VerifyPool(loadConfig({ VERIFY_WORKERS: '1' }, '/tmp'));
    try {
      const inflight = pool.prepare(json(hashedrekord(key).proposed));
      // Let the request reach the worker, then kill it.
      await new Promise((r) => setImmediate(r));
      await (
        pool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }
      ).slots[0].worker.terminate();
      await assert.rejects(inflight, (e) => isVellumError(e, 'UNAVAILABLE'));
      // Until the replacement is up, entries are prepared in-thread; afterwards by the new worker.
      const f = hashedrekord(key);
      assert.ok((await pool.prepare(json(f.proposed))).body.equals(f.canonical));
      for (let i = 0; i < 60 && pool.size === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(pool.size, 1, 'a replacement worker was started');
      const g = hashedrekord(key);
      assert.ok((await pool.prepare(json(g.proposed))).body.equals(g.canonical));
    } finally {
      await pool.onModuleDestroy();
    }
  });
});
