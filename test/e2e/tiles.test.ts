import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hashedrekord, newP256Key } from './fixtures';
import { http, postJson, startTestServer, TestServer } from '../support/server';
import {
  encodeIndex,
  fetchEntries,
  getRaw,
  IMMUTABLE_CACHE,
  PARTIAL_CACHE,
  parseBundle,
  rootFromBundles,
} from '../support/tile-client';
import { leafHashOf, merkleRoot, nodeHashOf, verifyCheckpointNote } from '../support/verifier';

describe('C2SP tile read API', () => {
  let server: TestServer;
  const url = (p: string) => server.url + p;
  const SIZE = 300; // one full tile and a partial one of 44 at level 0; a partial of 1 at level 1
  const canonical = new Set<string>();

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.dispose();
  });

  test('on an empty log /checkpoint is the size-0 note and no tile exists', async () => {
    const cp = await http(url('/checkpoint'));
    assert.equal(cp.status, 200);
    assert.equal(cp.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(cp.headers.get('cache-control'), 'no-cache');
    assert.equal(verifyCheckpointNote(cp.text, server.ctx.key, server.ctx.hostname).size, 0);
    for (const p of ['/tile/0/000.p/1', '/tile/entries/000.p/1', '/tile/0/000', '/tile/entries/000']) {
      const r = await http(url(p));
      assert.equal(r.status, 404, p);
      assert.equal(r.json.code, 404);
    }
  });

  test('entry bundles rebuild the checkpoint root and the v1 API root', async () => {
    const key = newP256Key();
    const fixtures = Array.from({ length: SIZE }, () => hashedrekord(key));
    for (const f of fixtures) canonical.add(f.canonical.toString('hex'));
    const replies = await Promise.all(fixtures.map((f) => postJson(url('/api/v1/log/entries'), f.proposed)));
    for (const r of replies) assert.equal(r.status, 201, r.text);

    const note = await http(url('/checkpoint'));
    assert.equal(note.status, 200);
    const cp = verifyCheckpointNote(note.text, server.ctx.key, server.ctx.hostname);
    assert.equal(cp.size, SIZE);
    const info = await http(url('/api/v1/log'));
    assert.equal(info.json.signedTreeHead, note.text, '/checkpoint serves the note of /api/v1/log');
    assert.equal(info.json.treeSize, SIZE);

    const entries = await fetchEntries(server.url, cp.size);
    const leaves = entries.map(leafHashOf);
    const root = merkleRoot(leaves);
    assert.ok(root.equals(cp.rootHash), 'root from entry bundles matches the checkpoint');
    assert.equal(root.toString('hex'), info.json.rootHash, 'and the v1 API root');
    // The bundles carry exactly the canonical bodies submitted, each once.
    assert.deepEqual(new Set(entries.map((e) => e.toString('hex'))), canonical);

    // Hash tiles: level 0 is the leaf hashes, level 1 the roots of full level-0 tiles.
    const full0 = await getRaw(url('/tile/0/000'));
    assert.equal(full0.status, 200);
    assert.equal(full0.headers.get('cache-control'), IMMUTABLE_CACHE);
    assert.ok(full0.body.equals(Buffer.concat(leaves.slice(0, 256))));
    const part0 = await getRaw(url(`/tile/0/001.p/${SIZE - 256}`));
    assert.equal(part0.status, 200);
    assert.equal(part0.headers.get('cache-control'), PARTIAL_CACHE);
    assert.ok(part0.body.equals(Buffer.concat(leaves.slice(256))));
    const part1 = await getRaw(url('/tile/1/000.p/1'));
    assert.equal(part1.status, 200);
    assert.ok(part1.body.equals(merkleRoot(leaves.slice(0, 256))));
    // The root from the tiles alone: MTH(first 256) || MTH(the rest).
    assert.ok(nodeHashOf(part1.body, merkleRoot(leaves.slice(256))).equals(cp.rootHash));

    // A narrower partial of a full tile is its prefix.
    const narrow = await getRaw(url('/tile/entries/000.p/10'));
    assert.equal(narrow.status, 200);
    assert.deepEqual(parseBundle(narrow.body), entries.slice(0, 10));
    const narrowHashes = await getRaw(url('/tile/0/000.p/7'));
    assert.ok(narrowHashes.body.equals(full0.body.subarray(0, 7 * 32)));
    const headOnly = await fetch(url('/tile/0/000'), { method: 'HEAD' });
    assert.equal(headOnly.status, 200);
  });

  test('tiles beyond the tree are 404 with a JSON error', async () => {
    for (const p of [
      '/tile/0/001', // not full yet
      `/tile/0/001.p/${SIZE - 256 + 1}`, // wider than what exists
      '/tile/0/002.p/1',
      '/tile/1/000', // level 1 holds one hash
      '/tile/1/000.p/2',
      '/tile/2/000.p/1',
      '/tile/entries/001',
      `/tile/entries/001.p/${SIZE - 256 + 1}`,
      '/tile/entries/x001/000',
    ]) {
      const r = await http(url(p));
      assert.equal(r.status, 404, p);
      assert.equal(r.json.code, 404, p);
      assert.equal(typeof r.json.message, 'string');
    }
  });

  test('bad tile paths are 400 with a JSON error and change nothing', async () => {
    const before = await http(url('/checkpoint'));
    for (const p of [
      '/tile/0/1', // groups are 3 digits
      '/tile/0/0001',
      '/tile/0/x000/001', // a leading zero group is a second spelling
      '/tile/0/001/002', // only the last group lacks the x
      '/tile/0/abc',
      '/tile/0/-01',
      '/tile/0/000.p/0', // W is 1..255
      '/tile/0/000.p/256',
      '/tile/0/000.p/300',
      '/tile/0/000.p/01',
      '/tile/0/000.p/x',
      '/tile/0/000.p/',
      '/tile/64/000', // L is 0..63
      '/tile/01/000',
      '/tile/x/000',
      '/tile/entries',
      '/tile/entries/',
      '/tile/entries/1',
      '/tile/entries/000.p/0',
      '/tile/entries/x1000/000',
      '/tile/0/x999/x999/x999/x999/x999/999', // beyond 2^53
    ]) {
      const r = await http(url(p));
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.equal(r.json.code, 400, p);
      assert.ok(typeof r.json.message === 'string' && r.json.message.length > 0, p);
    }
    const r = await http(url('/tile/0/000'), { method: 'POST', body: '{}' });
    assert.equal(r.status, 405);
    const afterCp = await http(url('/checkpoint'));
    assert.equal(afterCp.text, before.text);
  });

  test('as the log grows, old partial tiles keep their bytes; after a restart the tiles still rebuild the root', async () => {
    const oldPart = await getRaw(url(`/tile/0/001.p/${SIZE - 256}`));
    const oldBundle = await getRaw(url(`/tile/entries/001.p/${SIZE - 256}`));
    const key = newP256Key();
    const more = Array.from({ length: 250 }, () => hashedrekord(key));
    const replies = await Promise.all(more.map((f) => postJson(url('/api/v1/log/entries'), f.proposed)));
    for (const r of replies) assert.equal(r.status, 201, r.text);
    const grown = SIZE + more.length; // 550: two full tiles and a partial of 38

    assert.ok((await getRaw(url(`/tile/0/001.p/${SIZE - 256}`))).body.equals(oldPart.body));
    assert.ok((await getRaw(url(`/tile/entries/001.p/${SIZE - 256}`))).body.equals(oldBundle.body));
    const nowFull = await getRaw(url('/tile/entries/001'));
    assert.equal(nowFull.status, 200, 'a tile that filled up is served in full');
    assert.equal(nowFull.headers.get('cache-control'), IMMUTABLE_CACHE);

    // Same port: LOG_HOSTNAME (the checkpoint's signer name) defaults to it.
    const { dataDir, port } = server;
    await server.stop();
    server = await startTestServer({ dataDir, port });
    const note = await http(url('/checkpoint'));
    const cp = verifyCheckpointNote(note.text, server.ctx.key, server.ctx.hostname);
    assert.equal(cp.size, grown);
    const { entries, root } = await rootFromBundles(server.url, cp.size);
    assert.ok(root.equals(cp.rootHash), 'root from entry bundles after the restart');
    assert.equal(root.toString('hex'), (await http(url('/api/v1/log'))).json.rootHash);
    const encoded = new Set(entries.map((e) => e.toString('hex')));
    for (const f of more) assert.ok(encoded.has(f.canonical.toString('hex')));
    assert.equal((await http(url(`/tile/entries/${encodeIndex(2)}.p/${grown - 512 + 1}`))).status, 404);
  });
});
