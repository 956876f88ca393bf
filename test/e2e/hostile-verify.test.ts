/**
 * Hostile submissions against a spawned server: certificate-chain bombs are answered 4xx quickly
 * while an honest client's latency holds, and random or mutated bodies on the v1 and v2 entry
 * routes are answered 2xx or 4xx, never 5xx, within a fixed time.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, sign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { hashedrekord, newP256Key } from './fixtures';
import { http, startTestServer, type TestServer } from '../support/server';
import { chainBomb, hashedrekordWithPem } from '../support/chain-bombs';

const V1 = '/api/v1/log/entries';
const V2 = '/api/v2/log/entries';

describe('hostile verification work', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { VERIFY_WORKERS: '2' } });
  });
  after(async () => {
    await server.dispose();
  });

  test('two 10-certificate chain bombs at once: both 4xx in under 2 s, honest p99 under 1 s', async (t) => {
    const key = newP256Key();
    const bombs = [chainBomb(), chainBomb()].map((b) => {
      assert.equal(b.certs.length, 10);
      return JSON.stringify(hashedrekordWithPem(b.leaf, b.pem, randomBytes(32)));
    });
    const honestLatencies: number[] = [];
    const honestClient = async (): Promise<void> => {
      for (let i = 0; i < 15; i++) {
        const body = JSON.stringify(hashedrekord(key).proposed);
        const started = performance.now();
        const r = await http(`${server.url}${V1}`, { body });
        honestLatencies.push(performance.now() - started);
        assert.equal(r.status, 201, r.text);
      }
    };
    const bombAnswers = bombs.map(async (body) => {
      const started = performance.now();
      const r = await http(`${server.url}${V1}`, { body });
      return { status: r.status, text: r.text, ms: performance.now() - started };
    });
    await Promise.all([honestClient(), honestClient(), honestClient(), honestClient()]);
    for (const b of await Promise.all(bombAnswers)) {
      t.diagnostic(`chain bomb: ${b.status} in ${b.ms.toFixed(1)} ms`);
      assert.ok(b.status >= 400 && b.status < 500, `${b.status} ${b.text}`);
      assert.match(b.text, /unknown authority/);
      assert.ok(b.ms < 2000, `bomb answered after ${b.ms} ms`);
    }
    const sorted = [...honestLatencies].sort((a, b) => a - b);
    const p = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    t.diagnostic(
      `honest: n=${sorted.length} p50=${p(0.5).toFixed(1)} ms p99=${p(0.99).toFixed(1)} ms max=${sorted.at(-1)!.toFixed(1)} ms`,
    );
    assert.ok(p(0.99) < 1000, `honest p99 ${p(0.99)} ms`);
  });

  /** A valid body of each route, as text, for the mutations to start from. */
  function seeds(): { v1: string; v2: string } {
    const key = newP256Key();
    const data = randomBytes(16);
    const v2 = JSON.stringify({
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
    });
    return { v1: JSON.stringify(hashedrekord(key).proposed), v2 };
  }

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 65_535 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), text: fc.json({ maxDepth: 4 }) }),
    fc.record({ kind: fc.constant('value' as const), value: fc.jsonValue({ maxDepth: 5 }) }),
  );

  function apply(seed: string, m: typeof mutation extends fc.Arbitrary<infer M> ? M : never): Buffer {
    const s = Buffer.from(seed);
    switch (m.kind) {
      case 'bytes':
        return Buffer.from(m.bytes);
      case 'truncate':
        return s.subarray(0, m.at % (s.length + 1));
      case 'flip': {
        const b = Buffer.from(s);
        b[m.at % b.length]! ^= 1 << m.bit;
        return b;
      }
      case 'splice': {
        const at = m.at % (s.length + 1);
        return Buffer.concat([s.subarray(0, at), Buffer.from(m.text), s.subarray(at)]);
      }
      default:
        return Buffer.from(JSON.stringify(m.value) ?? 'null');
    }
  }

  for (const route of [V1, V2]) {
    test(`property: random and mutated bodies on POST ${route} get 2xx or 4xx within 2 s`, async (t) => {
      const seed = route === V1 ? seeds().v1 : seeds().v2;
      let slowest = 0;
      await fc.assert(
        fc.asyncProperty(mutation, async (m) => {
          const body = apply(seed, m);
          const started = performance.now();
          const r = await http(`${server.url}${route}`, { body });
          const ms = performance.now() - started;
          slowest = Math.max(slowest, ms);
          assert.ok(r.status >= 200 && r.status < 500, `${r.status} ${r.text.slice(0, 300)}`);
          assert.ok(ms < 2000, `${ms} ms`);
        }),
        { numRuns: 120 },
      );
      t.diagnostic(`slowest answer ${slowest.toFixed(1)} ms`);
    });
  }
});
