import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dsse, Fixture, hashedrekord, intoto, newP256Key, TestKey } from './fixtures';
import { http, postJson, startTestServer, TestServer } from '../support/server';
import {
  merkleRoot,
  ParsedCheckpoint,
  treeIdHexOf,
  verifyConsistency,
  verifyLogEntry,
  verifyLogInfo,
  VerifiedEntry,
} from '../support/verifier';

/** Every checkpoint seen in any response, by size: a size must never come with two roots. */
class CheckpointBook {
  readonly bySize = new Map<number, Buffer>();
  add(cp: ParsedCheckpoint): void {
    const prev = this.bySize.get(cp.size);
    if (prev) assert.ok(prev.equals(cp.rootHash), `two different roots for size ${cp.size}`);
    else this.bySize.set(cp.size, cp.rootHash);
  }
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('Rekor v1 API end to end', () => {
  let server: TestServer;
  const book = new CheckpointBook();
  /** leaf hash by index, from verified responses: the reference tree. */
  const leaves: Buffer[] = [];
  const byId = new Map<string, VerifiedEntry>();
  const fixtures: Fixture[] = [];
  let keys: TestKey[];

  before(async () => {
    server = await startTestServer();
    keys = [newP256Key(), newP256Key(), newP256Key()];
  });
  after(async () => {
    await server?.dispose();
  });

  const url = (p: string) => server.url + p;

  test('an empty log has size 0, the empty root and a signed checkpoint', async () => {
    const r = await http(url('/api/v1/log'));
    assert.equal(r.status, 200);
    const cp = verifyLogInfo(r.json, server.ctx);
    assert.equal(cp.size, 0);
    assert.equal(r.json.rootHash, createHash('sha256').digest('hex'));
    const pk = await http(url('/api/v1/log/publicKey'));
    assert.equal(pk.status, 200);
    assert.match(pk.headers.get('content-type') ?? '', /application\/x-pem-file/);
    assert.match(
      pk.text,
      /^-----BEGIN PUBLIC KEY-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END PUBLIC KEY-----\n$/,
    );
  });

  test('several hundred concurrent submissions: every 201 verifies independently', async () => {
    for (let i = 0; i < 300; i++) fixtures.push(hashedrekord(keys[i % keys.length]));
    for (let i = 0; i < 40; i++) fixtures.push(dsse(keys[i % keys.length]));
    for (let i = 0; i < 40; i++) fixtures.push(intoto(keys[i % keys.length]));
    shuffle(fixtures);
    const replies = await Promise.all(fixtures.map((f) => postJson(url('/api/v1/log/entries'), f.proposed)));
    const indices = new Set<number>();
    replies.forEach((r, i) => {
      assert.equal(r.status, 201, `submission ${i} (${fixtures[i].kind}): ${r.text}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      const v = verifyLogEntry(r.json, server.ctx);
      assert.equal(r.headers.get('etag'), v.entryId, 'ETag is the unquoted EntryID');
      assert.equal(r.headers.get('location'), `/api/v1/log/entries/${v.entryId}`);
      assert.ok(
        v.body.equals(fixtures[i].canonical),
        `canonical ${fixtures[i].kind} body differs:\n${v.body}\n${fixtures[i].canonical}`,
      );
      assert.ok(!indices.has(v.logIndex), `index ${v.logIndex} given twice`);
      indices.add(v.logIndex);
      leaves[v.logIndex] = v.leafHash;
      byId.set(v.entryId, v);
      book.add(v.checkpoint);
    });
    assert.equal(indices.size, fixtures.length);
    assert.deepEqual(
      [...indices].sort((a, b) => a - b),
      fixtures.map((_, i) => i),
    );
  });

  test('every checkpoint seen is the RFC 6962 root of the leaves below its size', () => {
    assert.ok(book.bySize.size >= 2, 'expected several batches');
    for (const [size, root] of book.bySize) {
      assert.ok(merkleRoot(leaves.slice(0, size)).equals(root), `root of size ${size}`);
    }
  });

  test('consistency proofs between every pair of checkpoint sizes seen', async () => {
    const sizes = [...book.bySize.keys()].sort((a, b) => a - b);
    const info = await http(url('/api/v1/log'));
    const latest = verifyLogInfo(info.json, server.ctx);
    book.add(latest);
    const pairs: [number, number][] = [];
    const all = [...new Set([...sizes, latest.size])].sort((a, b) => a - b);
    for (let i = 0; i < all.length; i++) for (let j = i; j < all.length; j++) pairs.push([all[i], all[j]]);
    // Keep the run bounded when batching produced many sizes; always keep pairs with the latest.
    const chosen =
      pairs.length <= 400
        ? pairs
        : pairs.filter((p, k) => p[1] === latest.size || k % Math.ceil(pairs.length / 400) === 0);
    for (const [a, b] of chosen) {
      const r = await http(url(`/api/v1/log/proof?firstSize=${a}&lastSize=${b}`));
      assert.equal(r.status, 200, `proof ${a}->${b}: ${r.text}`);
      assert.deepEqual(Object.keys(r.json).sort(), ['hashes', 'rootHash']);
      assert.equal(r.json.rootHash, latest.rootHash.toString('hex'), "rootHash is the log's current root");
      const hashes = (r.json.hashes as string[]).map((h) => Buffer.from(h, 'hex'));
      if (a === b) assert.equal(hashes.length, 0);
      verifyConsistency(a, b, hashes, book.bySize.get(a)!, book.bySize.get(b)!);
    }
    // With the treeID given explicitly, too.
    const r = await http(
      url(`/api/v1/log/proof?firstSize=1&lastSize=${latest.size}&treeID=${server.ctx.treeId}`),
    );
    assert.equal(r.status, 200);
  });

  test('GET by UUID (80 hex, 64 hex, uppercase) and by index return the same entry, proven against the latest tree', async () => {
    const info = verifyLogInfo((await http(url('/api/v1/log'))).json, server.ctx);
    const ids = [...byId.keys()].slice(0, 25);
    for (const id of ids) {
      const want = byId.get(id)!;
      for (const form of [id, id.slice(16), id.toUpperCase()]) {
        const r = await http(url(`/api/v1/log/entries/${form}`));
        assert.equal(r.status, 200, `${form}: ${r.text}`);
        assert.match(r.headers.get('cache-control') ?? '', /no-cache/);
        const v = verifyLogEntry(r.json, server.ctx);
        assert.equal(v.entryId, id, 'response key is the lowercase 80-hex EntryID');
        assert.equal(v.logIndex, want.logIndex);
        assert.ok(v.body.equals(want.body));
        assert.equal(v.checkpoint.size, info.size);
        book.add(v.checkpoint);
      }
      const r = await http(url(`/api/v1/log/entries?logIndex=${want.logIndex}`));
      assert.equal(r.status, 200);
      assert.equal(verifyLogEntry(r.json, server.ctx).entryId, id);
    }
    // Misses: 404 with an empty body.
    for (const p of [
      `/api/v1/log/entries/${'ab'.repeat(32)}`,
      `/api/v1/log/entries/${treeIdHexOf(server.ctx.treeId)}${'cd'.repeat(32)}`,
      `/api/v1/log/entries/${'0123456789abcdef'}${[...byId.keys()][0].slice(16)}`,
      `/api/v1/log/entries?logIndex=${fixtures.length}`,
      `/api/v1/log/entries?logIndex=999999999999`,
    ]) {
      const r = await http(url(p));
      assert.equal(r.status, 404, p);
      assert.equal(r.text, '', `${p} has an empty body`);
    }
  });

  test('POST /entries/retrieve (with and without trailing slash) finds by UUID, index and proposed entry', async () => {
    const ids = [...byId.keys()];
    const [a, b] = [byId.get(ids[0])!, byId.get(ids[1])!];
    const fx = fixtures.find((f) => f.canonical.equals(byId.get(ids[2])!.body))!;
    for (const path of ['/api/v1/log/entries/retrieve', '/api/v1/log/entries/retrieve/']) {
      const r = await postJson(url(path), {
        logIndexes: [b.logIndex, 10_000_000],
        entryUUIDs: [a.entryId, 'ff'.repeat(32)],
        entries: [fx.proposed],
      });
      assert.equal(r.status, 200, r.text);
      assert.ok(Array.isArray(r.json));
      const got = (r.json as unknown[]).map((m) => verifyLogEntry(m, server.ctx).entryId);
      // UUID and entry hits first, then index hits; misses dropped.
      assert.deepEqual(got, [a.entryId, ids[2], b.entryId]);
    }
    const none = await postJson(url('/api/v1/log/entries/retrieve'), { entryUUIDs: ['ee'.repeat(32)] });
    assert.equal(none.status, 200);
    assert.deepEqual(none.json, []);
  });

  test('POST /index/retrieve finds entries by artifact hash and by public key', async () => {
    const hr = fixtures.find((f) => f.kind === 'hashedrekord') as ReturnType<typeof hashedrekord>;
    const id = [...byId.values()].find((v) => v.body.equals(hr.canonical))!.entryId;
    for (const hash of [hr.digest, `sha256:${hr.digest}`, hr.digest.toUpperCase()]) {
      const r = await postJson(url('/api/v1/index/retrieve'), { hash });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json, [id]);
    }
    const spec = hr.proposed.spec as any;
    const r = await postJson(url('/api/v1/index/retrieve'), {
      publicKey: { format: 'x509', content: spec.signature.publicKey.content },
    });
    assert.equal(r.status, 200, r.text);
    // Every hashedrekord made with that key (dsse/intoto are keyed with a prefix: Rekor's quirk).
    const key = keys.find((k) => Buffer.from(k.pem).toString('base64') === spec.signature.publicKey.content)!;
    const expected = [...byId.values()]
      .filter((v) => {
        const body = JSON.parse(v.body.toString());
        return (
          body.kind === 'hashedrekord' &&
          body.spec.signature.publicKey.content === Buffer.from(key.pem).toString('base64')
        );
      })
      .map((v) => v.entryId)
      .sort();
    assert.deepEqual([...(r.json as string[])].sort(), expected);
    const and = await postJson(url('/api/v1/index/retrieve'), {
      publicKey: { format: 'x509', content: spec.signature.publicKey.content },
      hash: hr.digest,
      operator: 'and',
    });
    assert.deepEqual(and.json, [id]);
    const miss = await postJson(url('/api/v1/index/retrieve'), { hash: '00'.repeat(32) });
    assert.deepEqual(miss.json, []);
  });

  test('a duplicate gets 409, the exact message and a Location whose GET works', async () => {
    const f = fixtures[0];
    const first = [...byId.values()].find((v) => v.body.equals(f.canonical))!;
    // Same content spelled differently (key order, whitespace) is the same entry.
    const respelled = JSON.stringify(JSON.parse(JSON.stringify(f.proposed)), null, 3);
    for (const body of [JSON.stringify(f.proposed), respelled]) {
      const r = await http(url('/api/v1/log/entries'), { method: 'POST', body });
      assert.equal(r.status, 409, r.text);
      assert.deepEqual(r.json, {
        code: 409,
        message: `an equivalent entry already exists in the transparency log with UUID ${first.entryId}`,
      });
      assert.equal(r.headers.get('location'), `/api/v1/log/entries/${first.entryId}`);
      const again = await http(url(r.headers.get('location')!));
      assert.equal(again.status, 200);
      assert.equal(verifyLogEntry(again.json, server.ctx).entryId, first.entryId);
    }
  });

  test('operational routes: ping, health, ready, metrics, docs; unknown paths and methods are JSON', async () => {
    assert.equal((await http(url('/ping'))).status, 200);
    assert.deepEqual((await http(url('/health'))).json, { status: 'ok' });
    const ready = await http(url('/ready'));
    assert.equal(ready.status, 200);
    assert.equal(ready.json.status, 'ready');
    const m = await http(url('/metrics'));
    assert.equal(m.status, 200);
    assert.match(m.text, /vellum_entries_submitted_total\{outcome="accepted",kind="hashedrekord"\} 300/);
    assert.match(m.text, /vellum_http_request_duration_seconds_bucket/);
    const docs = await http(url('/api/docs/openapi.json'));
    assert.equal(docs.status, 200);
    assert.ok(docs.json.paths['/api/v1/log/entries']);
    const ui = await http(url('/api/docs'));
    assert.equal(ui.status, 200);

    const nf = await http(url('/no/such/path'));
    assert.equal(nf.status, 404);
    assert.match(nf.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(nf.json.code, 404);
    const na = await http(url('/api/v1/log'), { method: 'DELETE' });
    assert.equal(na.status, 405);
    assert.equal(na.json.code, 405);
    assert.match(na.headers.get('allow') ?? '', /GET/);
    const na2 = await http(url(`/api/v1/log/entries/${'ab'.repeat(32)}`), { method: 'PUT', body: '{}' });
    assert.equal(na2.status, 405);
    // CORS: permissive, preflight included.
    assert.equal(nf.headers.get('access-control-allow-origin'), '*');
    const pre = await http(url('/api/v1/log/entries'), {
      method: 'OPTIONS',
      headers: { origin: 'https://example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
  });

  test('after a restart on the same DATA_DIR: same identity, every entry still verifies, appending continues', async () => {
    const before = verifyLogInfo((await http(url('/api/v1/log'))).json, server.ctx);
    const { dataDir, port } = server;
    const oldCtx = server.ctx;
    assert.equal(await server.stop(), 0, `graceful exit:\n${server.output()}`);
    server = await startTestServer({ dataDir, port });
    assert.equal(server.ctx.treeId, oldCtx.treeId);
    assert.equal(server.ctx.key.logIdHex, oldCtx.key.logIdHex);
    const info = verifyLogInfo((await http(url('/api/v1/log'))).json, server.ctx);
    assert.equal(info.size, before.size);
    assert.ok(info.rootHash.equals(before.rootHash));

    for (const [i, leaf] of leaves.entries()) {
      if (i % 7 !== 0) continue;
      const r = await http(url(`/api/v1/log/entries?logIndex=${i}`));
      assert.equal(r.status, 200);
      const v = verifyLogEntry(r.json, server.ctx);
      assert.ok(v.leafHash.equals(leaf));
    }

    const more = Array.from({ length: 30 }, (_, i) => hashedrekord(keys[i % keys.length]));
    const replies = await Promise.all(more.map((f) => postJson(url('/api/v1/log/entries'), f.proposed)));
    for (const r of replies) {
      assert.equal(r.status, 201, r.text);
      const v = verifyLogEntry(r.json, server.ctx);
      assert.ok(v.logIndex >= before.size);
      leaves[v.logIndex] = v.leafHash;
      book.add(v.checkpoint);
    }
    const after = verifyLogInfo((await http(url('/api/v1/log'))).json, server.ctx);
    assert.equal(after.size, before.size + more.length);
    assert.ok(merkleRoot(leaves).equals(after.rootHash));
    const p = await http(url(`/api/v1/log/proof?firstSize=${before.size}&lastSize=${after.size}`));
    verifyConsistency(
      before.size,
      after.size,
      (p.json.hashes as string[]).map((h) => Buffer.from(h, 'hex')),
      before.rootHash,
      after.rootHash,
    );
  });
});
