/**
 * Rekor v2 error answers from a running Vellum: duplicates (409 + x-log-index), bad input (4xx
 * JSON in grpc-gateway shape, nothing written), and pushback (503 + Retry-After) from the same
 * backpressure as the v1 write path.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { newP256Key, type TestKey } from './fixtures';
import { http, postJson, startTestServer, type TestServer } from '../support/server';

process.env.NO_PROXY = '127.0.0.1,localhost';
process.env.no_proxy = '127.0.0.1,localhost';
const MAX_ENTRY_BYTES = 256 * 1024;

describe('Rekor v2 errors', () => {
  let server: TestServer;
  let artifactKey: TestKey;
  before(async () => {
    server = await startTestServer({ env: { MAX_ENTRY_BYTES: String(MAX_ENTRY_BYTES) } });
    artifactKey = newP256Key();
  });
  after(async () => {
    await server?.dispose();
  });

  function hashedRequest(digest: Buffer, signature: Buffer, keyDetails = 'PKIX_ECDSA_P256_SHA_256') {
    return {
      hashedRekordRequestV002: {
        digest: digest.toString('base64'),
        signature: {
          content: signature.toString('base64'),
          verifier: { publicKey: { rawBytes: artifactKey.der.toString('base64') }, keyDetails },
        },
      },
    };
  }

  test('a duplicate answers 409 with x-log-index and grpc-gateway JSON', async () => {
    const data = randomBytes(40);
    const req = hashedRequest(
      createHash('sha256').update(data).digest(),
      cryptoSign('sha256', data, artifactKey.privateKey),
    );
    const first = await postJson(`${server.url}/api/v2/log/entries`, req);
    assert.equal(first.status, 201, first.text);
    const again = await postJson(`${server.url}/api/v2/log/entries`, req);
    assert.equal(again.status, 409);
    assert.equal(again.headers.get('x-log-index'), first.json.logIndex);
    assert.equal(again.json.code, 6, 'gRPC AlreadyExists');
    assert.match(again.json.message, /already exists/);
    assert.deepEqual(again.json.details, []);
  });

  test('bad input gets a 4xx JSON error and changes nothing', async () => {
    const before = (await http(`${server.url}/api/v1/log`)).json.treeSize;
    const data = randomBytes(40);
    const digest = createHash('sha256').update(data).digest();
    const sig = cryptoSign('sha256', data, artifactKey.privateKey);
    const good = hashedRequest(digest, sig);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const rsaReq = hashedRequest(digest, cryptoSign('sha256', data, rsa.privateKey));
    rsaReq.hashedRekordRequestV002.signature.verifier.publicKey.rawBytes = rsa.publicKey
      .export({ type: 'spki', format: 'der' })
      .toString('base64');
    const cases: Array<[string, string | Buffer, number, RegExp]> = [
      ['wrong oneof (both)', JSON.stringify({ ...good, dsseRequestV002: {} }), 400, /only one of/],
      ['wrong oneof (neither)', '{}', 400, /is required/],
      ['unknown field', JSON.stringify({ ...good, x: 1 }), 400, /unknown field/],
      [
        'digest length mismatch',
        JSON.stringify(hashedRequest(Buffer.alloc(48, 7), sig)),
        400,
        /digest length \(48\)/,
      ],
      ['wrong key type (RSA-1024)', JSON.stringify(rsaReq), 400, /RSA key, size 1024/],
      [
        'keyDetails not allowed for the key',
        JSON.stringify(hashedRequest(digest, sig, 'PKIX_ECDSA_P256_HMAC_SHA_256')),
        400,
        /not allowed/,
      ],
      [
        'bad base64',
        JSON.stringify(hashedRequest(digest, sig)).replace(/"digest":"/, '"digest":"*'),
        400,
        /not standard padded base64/,
      ],
      [
        'bad signature',
        JSON.stringify(hashedRequest(createHash('sha256').update('x').digest(), sig)),
        400,
        /does not verify/,
      ],
      ['malformed JSON', '{"hashedRekordRequestV002":', 400, /malformed JSON/],
      [
        'oversized body',
        JSON.stringify({ hashedRekordRequestV002: { digest: 'A'.repeat(MAX_ENTRY_BYTES) } }),
        413,
        /Limit set to/,
      ],
    ];
    for (const [name, body, status, message] of cases) {
      const r = await http(`${server.url}/api/v2/log/entries`, { method: 'POST', body });
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.match(r.headers.get('content-type') ?? '', /application\/json/, name);
      assert.match(r.json.message, message, name);
      assert.equal(typeof r.json.code, 'number', name);
      assert.deepEqual(r.json.details, [], name);
    }
    const wrongType = await http(`${server.url}/api/v2/log/entries`, {
      method: 'POST',
      body: JSON.stringify(good),
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(wrongType.status, 415);
    const get = await http(`${server.url}/api/v2/log/entries`);
    assert.equal(get.status, 405);
    assert.deepEqual([get.json.code, get.json.details], [12, []], 'gRPC Unimplemented, grpc-gateway shape');
    assert.equal((await http(`${server.url}/api/v1/log`)).json.treeSize, before, 'tree size unchanged');
  });
});

describe('Rekor v2 under pushback', () => {
  let server: TestServer;
  before(async () => {
    // One entry may wait to be sequenced; a burst beyond it is pushed back by the v1 write path's
    // own backpressure.
    server = await startTestServer({ env: { MAX_PENDING: '1', BATCH_MAX_AGE_MS: '500' } });
  });
  after(async () => {
    await server?.dispose();
  });

  test('a burst gets 503 + Retry-After (gRPC Unavailable) for what does not fit; the rest is logged', async () => {
    const key = newP256Key();
    const requests = Array.from({ length: 8 }, () => {
      const data = randomBytes(32);
      return {
        hashedRekordRequestV002: {
          digest: createHash('sha256').update(data).digest('base64'),
          signature: {
            content: cryptoSign('sha256', data, key.privateKey).toString('base64'),
            verifier: {
              publicKey: { rawBytes: key.der.toString('base64') },
              keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            },
          },
        },
      };
    });
    const replies = await Promise.all(requests.map((r) => postJson(`${server.url}/api/v2/log/entries`, r)));
    const pushed = replies.filter((r) => r.status === 503);
    const accepted = replies.filter((r) => r.status === 201);
    assert.equal(pushed.length + accepted.length, replies.length, replies.map((r) => r.text).join('\n'));
    assert.ok(pushed.length > 0, 'some requests were pushed back');
    assert.ok(accepted.length > 0, 'the first one was logged');
    for (const r of pushed) {
      assert.match(r.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
      assert.equal(r.json.code, 14);
      assert.match(r.json.message, /retry later/);
    }
    assert.equal((await http(`${server.url}/api/v1/log`)).json.treeSize, accepted.length);
  });
});
