/**
 * Invariant 3 for consistency proofs: the server verifies each proof against the roots it signed
 * before serving it. With a stored tile corrupted behind the server's back, /api/v1/log/proof
 * answers 500 (INCONSISTENT_LOG) with an error log line instead of a proof that does not verify;
 * with the tile restored, the same proof is served again and verifies independently.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { hashedrekord, newP256Key } from './fixtures';
import { http, postJson, startTestServer, type TestServer } from '../support/server';
import { leafHashOf, merkleRoot, verifyConsistency } from '../support/verifier';

const ENTRIES = 5;

describe('consistency proofs are checked before they are served', () => {
  let server: TestServer;
  const leaves: Buffer[] = [];

  before(async () => {
    server = await startTestServer();
    const key = newP256Key();
    // One at a time, so every size 1..ENTRIES has its own signed checkpoint.
    for (let i = 0; i < ENTRIES; i++) {
      const r = await postJson(`${server.url}/api/v1/log/entries`, hashedrekord(key).proposed);
      assert.equal(r.status, 201, r.text);
      const entry = Object.values(r.json as Record<string, { body: string; logIndex: number }>)[0];
      assert.equal(entry.logIndex, i);
      leaves.push(leafHashOf(Buffer.from(entry.body, 'base64')));
    }
  });
  after(() => server?.dispose());

  const proof = (first: number, last: number) =>
    http(`${server.url}/api/v1/log/proof?firstSize=${first}&lastSize=${last}`);

  /** Replaces the stored level-0 tile 0 (the partial right edge, read fresh on every proof). */
  function withTile<T>(fn: (db: BetterSqlite3.Database, nodes: Buffer) => T): T {
    const db = new BetterSqlite3(join(server.dataDir, 'vellum.db'));
    try {
      db.pragma('busy_timeout = 5000');
      const row = db.prepare('SELECT nodes FROM tiles WHERE level = 0 AND idx = 0').get() as {
        nodes: Buffer;
      };
      return fn(db, row.nodes);
    } finally {
      db.close();
    }
  }
  const setTile = (db: BetterSqlite3.Database, nodes: Buffer) =>
    db.prepare('UPDATE tiles SET nodes = ? WHERE level = 0 AND idx = 0').run(nodes);

  test('an honest proof is served and verifies against independently computed roots', async () => {
    for (const [first, last] of [
      [2, 5],
      [3, 5],
      [1, 4],
    ]) {
      const r = await proof(first, last);
      assert.equal(r.status, 200, r.text);
      const hashes = (r.json.hashes as string[]).map((h) => Buffer.from(h, 'hex'));
      verifyConsistency(
        first,
        last,
        hashes,
        merkleRoot(leaves.slice(0, first)),
        merkleRoot(leaves.slice(0, last)),
      );
    }
  });

  test('a corrupted stored tile gives 500 INCONSISTENT_LOG and an error log line, never the proof', async () => {
    const original = withTile((db, nodes) => {
      const bad = Buffer.from(nodes);
      for (let i = 0; i < bad.length; i++) bad[i] ^= 0xff;
      setTile(db, bad);
      return nodes;
    });
    try {
      for (const [first, last] of [
        [2, 5],
        [3, 5],
        [1, 4],
      ]) {
        const r = await proof(first, last);
        assert.equal(r.status, 500, `${first}..${last}: ${r.text}`);
        assert.deepEqual(r.json, { code: 500, message: 'unexpected result from transparency log' });
        assert.doesNotMatch(r.text, /hashes/);
      }
      const out = server.output();
      assert.match(out, /consistency proof from size 2 to 5 does not verify/);
      assert.match(out, /INCONSISTENT_LOG|stored tiles disagree with the signed checkpoints/);
    } finally {
      withTile((db) => setTile(db, original));
    }
    const r = await proof(2, 5);
    assert.equal(r.status, 200, `restored tile: ${r.text}`);
  });
});
