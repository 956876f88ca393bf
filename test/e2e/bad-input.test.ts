import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { hashedrekord, newP256Key, TestKey } from './fixtures';
import { http, postJson, Reply, startTestServer, TestServer } from '../support/server';

const MAX_BYTES = 64 * 1024;
const EPE = 'error processing entry: ';

/**
 * Hostile and malformed input, one test per class: each asserts the status, a JSON
 * `{code, message}` body, and that the tree did not grow (invariant 4: no partial writes).
 */
describe('bad input is refused with 4xx JSON and never reaches the tree', () => {
  let server: TestServer;
  let key: TestKey;
  let baseline: number;

  const url = (p: string) => server.url + p;
  const entries = () => url('/api/v1/log/entries');
  const treeSize = async (): Promise<number> => (await http(url('/api/v1/log'))).json.treeSize as number;

  function assertError(r: Reply, status: number, code: number, message?: string | RegExp): void {
    assert.equal(r.status, status, `status for ${r.text}`);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/, 'JSON error body');
    assert.equal(typeof r.json, 'object', `JSON body: ${r.text}`);
    assert.deepEqual(Object.keys(r.json).sort(), ['code', 'message']);
    assert.equal(r.json.code, code, `code in ${r.text}`);
    assert.equal(typeof r.json.message, 'string');
    if (typeof message === 'string') assert.equal(r.json.message, message);
    else if (message) assert.match(r.json.message, message);
  }

  before(async () => {
    server = await startTestServer({ env: { MAX_ENTRY_BYTES: String(MAX_BYTES) } });
    key = newP256Key();
    // One good entry so that size-dependent checks have a non-empty tree.
    const r = await postJson(entries(), hashedrekord(key).proposed);
    assert.equal(r.status, 201, r.text);
    baseline = await treeSize();
  });
  after(async () => {
    assert.equal(await treeSize(), baseline, 'no bad input reached the tree');
    await server?.dispose();
  });

  /** A proposed hashedrekord with one part replaced. */
  function mutated(fn: (spec: any) => void): unknown {
    const p = JSON.parse(JSON.stringify(hashedrekord(key).proposed));
    fn(p.spec);
    return p;
  }

  test('malformed JSON', async () => {
    for (const body of ['{"kind":', '{kind: "hashedrekord"}', '\u0000', '{"a":1}}', 'nul']) {
      const r = await http(entries(), { method: 'POST', body });
      assertError(r, 400, 400, /JSON/);
    }
    const r = await http(url('/api/v1/log/entries/retrieve'), { method: 'POST', body: '[1,' });
    assertError(r, 400, 400, /JSON/);
    assert.equal(await treeSize(), baseline);
  });

  test('missing or non-object bodies', async () => {
    assertError(
      await http(entries(), { method: 'POST', headers: { 'content-type': 'application/json' } }),
      422,
      602,
      'proposedEntry in body is required',
    );
    for (const v of [[], 'hashedrekord', 42, true, null]) {
      const r = await postJson(entries(), v);
      assert.ok(r.status === 422 || r.status === 400, `${JSON.stringify(v)} -> ${r.status}`);
      assertError(r, r.status, r.status === 422 ? r.json.code : 400);
    }
    assert.equal(await treeSize(), baseline);
  });

  test('wrong kind or version', async () => {
    const good = hashedrekord(key).proposed;
    assertError(await postJson(entries(), { ...good, kind: 'foo' }), 422, 422, 'invalid kind value: "foo"');
    const { kind: _k, ...noKind } = good;
    assertError(await postJson(entries(), noKind), 422, 602, 'kind in body is required');
    const { spec: _s, ...noSpec } = good;
    assertError(await postJson(entries(), noSpec), 422, 602, 'spec in body is required');
    assertError(
      await postJson(entries(), { ...good, apiVersion: '0.0.2' }),
      400,
      400,
      `${EPE}hashedrekord implementation for version '0.0.2' not found: unable to locate entry for version 0.0.2`,
    );
    assertError(await postJson(entries(), { ...good, apiVersion: 'one' }), 422, 605);
    // A kind Rekor knows but Vellum does not implement is not a server error either.
    const r = await postJson(entries(), { ...good, kind: 'rpm' });
    assert.ok(r.status === 400 || r.status === 422, String(r.status));
    assertError(r, r.status, r.json.code);
    assert.equal(await treeSize(), baseline);
  });

  test('bad base64', async () => {
    let r = await postJson(
      entries(),
      mutated((s) => (s.signature.content = '!!not base64!!')),
    );
    assertError(r, 400, 400, /^error processing entry: .*base64.*signature content/);
    r = await postJson(
      entries(),
      mutated((s) => (s.signature.publicKey.content = 'QUJD=')),
    );
    assertError(r, 400, 400, /^error processing entry: .*base64.*public key content/);
    assert.equal(await treeSize(), baseline);
  });

  test('bad PEM', async () => {
    for (const pem of [
      'not a pem at all',
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
      '-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n',
    ]) {
      const r = await postJson(
        entries(),
        mutated((s) => (s.signature.publicKey.content = Buffer.from(pem).toString('base64'))),
      );
      assertError(r, 400, 400, /^error processing entry: .*public key/);
    }
    assert.equal(await treeSize(), baseline);
  });

  test('wrong signature', async () => {
    const other = hashedrekord(key);
    // A valid signature, but over another digest.
    let r = await postJson(
      entries(),
      mutated((s) => (s.signature.content = (other.proposed.spec as any).signature.content)),
    );
    assertError(r, 400, 400, /^error processing entry: verifying signature/);
    // A signature by another key.
    r = await postJson(
      entries(),
      mutated((s) => (s.signature.publicKey.content = Buffer.from(newP256Key().pem).toString('base64'))),
    );
    assertError(r, 400, 400, /^error processing entry: verifying signature/);
    // Garbage bytes as a signature.
    r = await postJson(
      entries(),
      mutated((s) => (s.signature.content = randomBytes(70).toString('base64'))),
    );
    assertError(r, 400, 400, /^error processing entry: /);
    assert.equal(await treeSize(), baseline);
  });

  test('digest length mismatch and bad algorithms', async () => {
    let r = await postJson(
      entries(),
      mutated((s) => (s.data.hash.value = s.data.hash.value.slice(0, 62))),
    );
    assertError(r, 400, 400, `${EPE}invalid value for hash`);
    r = await postJson(
      entries(),
      mutated((s) => (s.data.hash.algorithm = 'sha384')),
    );
    assert.equal(r.status, 400);
    assertError(r, 400, 400, /^error processing entry: /);
    r = await postJson(
      entries(),
      mutated((s) => (s.data.hash.algorithm = 'md5')),
    );
    assertError(
      r,
      400,
      400,
      /^error processing entry: data\.hash\.algorithm in body should be one of \[sha256 sha384 sha512\]/,
    );
    assert.equal(await treeSize(), baseline);
  });

  test('oversize body', async () => {
    const big = JSON.stringify({ ...hashedrekord(key).proposed, pad: 'x'.repeat(MAX_BYTES) });
    const r = await http(entries(), { method: 'POST', body: big });
    assertError(r, 413, 413, `Request Entity Too Large. Limit set to ${MAX_BYTES}`);
    const r2 = await http(url('/api/v1/log/entries/retrieve'), { method: 'POST', body: big });
    assertError(r2, 413, 413);
    assert.equal(await treeSize(), baseline);
  });

  test('unknown fields', async () => {
    for (const p of [
      mutated((s) => (s.extra = 1)),
      mutated((s) => (s.signature.publicKey.extra = 'x')),
      mutated((s) => (s.data.hash.extra = 'x')),
    ]) {
      const r = await postJson(entries(), p);
      assert.ok(r.status === 400 || r.status === 422, `unknown field -> ${r.status} ${r.text}`);
      assertError(r, r.status, r.status === 422 ? r.json.code : 400, /extra/);
    }
    assert.equal(await treeSize(), baseline);
  });

  test('wrong content type', async () => {
    const body = JSON.stringify(hashedrekord(key).proposed);
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
      const r = await http(entries(), { method: 'POST', body, headers: { 'content-type': ct } });
      assertError(r, 415, 415, /unsupported media type/);
    }
    assert.equal(await treeSize(), baseline);
  });

  // Bad query parameters, paths and search bodies: test/e2e/rekor-status.test.ts.

  test('random junk never yields a 5xx', async () => {
    const bodies: string[] = [
      '{"kind":"hashedrekord","apiVersion":"0.0.1","spec":[]}',
      '{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"data":null,"signature":null}}',
      '{"kind":"dsse","apiVersion":"0.0.1","spec":{"proposedContent":{"envelope":"{","verifiers":["AAAA"]}}}',
      '{"kind":"dsse","apiVersion":"0.0.1","spec":{"proposedContent":{"envelope":"{\\"payload\\":\\"\\",\\"payloadType\\":\\"x\\",\\"signatures\\":[]}","verifiers":[]}}}',
      '{"kind":"intoto","apiVersion":"0.0.2","spec":{"content":{"envelope":{"payloadType":"x","signatures":[{"sig":"AAAA","publicKey":"AAAA"}]}}}}',
      '{"__proto__":{"polluted":true},"kind":"hashedrekord","apiVersion":"0.0.1","spec":{}}',
      '['.repeat(5000) + ']'.repeat(5000),
      JSON.stringify({
        kind: 'hashedrekord',
        apiVersion: '0.0.1',
        spec: { data: { hash: { algorithm: 'sha256', value: 'é'.repeat(64) } } },
      }),
    ];
    for (let i = 0; i < 20; i++) bodies.push(randomBytes(1 + ((i * 37) % 500)).toString('latin1'));
    for (const body of bodies) {
      const r = await http(entries(), { method: 'POST', body });
      assert.ok(
        r.status >= 400 && r.status < 500,
        `${r.status} for ${JSON.stringify(body.slice(0, 80))}: ${r.text}`,
      );
      assert.equal(typeof r.json?.code, 'number', r.text);
      assert.equal(typeof r.json?.message, 'string');
    }
    assert.equal(await treeSize(), baseline);
  });
});
