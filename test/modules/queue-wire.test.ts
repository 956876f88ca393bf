import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVellumError } from '../../src/core/errors';
import type { StoredTile, TileSource } from '../../src/core/merkle/tile-store';
import type { TileKey } from '../../src/core/tiles/tiles';
import { MemoTileSource } from '../../src/modules/storage/db-tile-source';
import { Outcome, decodeJob, decodeRecord, encodeJob, encodeRecord } from '../../src/modules/queue/wire';
import { makeEntry } from './storage-harness';

test('queue wire: a job carries the prepared entry; a job whose id is not its leaf hash is refused', () => {
  const e = makeEntry();
  const id = e.leafHash.toString('hex');
  const data = JSON.parse(JSON.stringify(encodeJob(e))) as unknown;
  assert.deepEqual(decodeJob(id, data), e);
  const other = makeEntry().leafHash.toString('hex');
  assert.throws(
    () => decodeJob(other, data),
    (x) => isVellumError(x, 'INTERNAL'),
  );
  for (const bad of [null, 7, {}, { ...(data as object), x: [1] }, { ...(data as object), b: 5 }]) {
    assert.throws(
      () => decodeJob(id, bad),
      (x) => isVellumError(x, 'INTERNAL'),
    );
  }
});

test('queue wire: batch records round-trip; malformed ones are rejected', () => {
  const cp = { size: 12, rootHash: Buffer.alloc(32, 3), note: 'note\n' };
  const rec = {
    checkpoint: cp,
    entries: [
      ['aa'.repeat(32), 10, 1700000000, 'c2V0', Outcome.Appended],
      ['bb'.repeat(32), 3, 1690000000, 'c2V0', Outcome.Stored],
      ['cc'.repeat(32), 4, 0, '', Outcome.Duplicate],
    ] as const,
  };
  assert.deepEqual(decodeRecord(encodeRecord(rec)), rec);
  const failed = { entries: [], failed: { leaves: ['dd'.repeat(32)], message: 'database down' } };
  assert.deepEqual(decodeRecord(encodeRecord(failed)), failed);
  for (const bad of [
    '{}',
    '{"e":[["aa",1,2,"",0]]}', // entries without a checkpoint
    '{"s":1,"r":"00","c":"n","e":[]}', // short root
    `{"s":1,"r":"${'00'.repeat(32)}","c":"n","e":[["aa",1.5,2,"",0]]}`,
    `{"s":1,"r":"${'00'.repeat(32)}","c":"n","e":[["aa",1,2,"",7]]}`,
    'not json',
  ]) {
    assert.throws(() => decodeRecord(bad), `${bad} rejected`);
  }
});

test('MemoTileSource: each tile is read once per burst, shared by concurrent proofs; a failed read rejects only its callers', async () => {
  const reads: string[] = [];
  let fail = false;
  const inner: TileSource = {
    readTiles(keys: readonly TileKey[]) {
      reads.push(keys.map((k) => `${k.level}/${k.index}`).join(','));
      if (fail) return Promise.reject(new Error('database down'));
      return Promise.resolve(
        keys.map((k): StoredTile => ({ level: k.level, index: k.index, width: 1, nodes: Buffer.alloc(32) })),
      );
    },
  };
  const memo = new MemoTileSource(inner);
  const k = (level: number, index: number) => ({ level, index });
  const [a, b] = await Promise.all([memo.readTiles([k(0, 1), k(1, 0)]), memo.readTiles([k(1, 0), k(0, 1)])]);
  assert.equal(a[0]!.index, 1);
  assert.equal(b[0]!.level, 1);
  assert.deepEqual(reads, ['0/1,1/0']);
  await memo.readTiles([k(0, 1), k(0, 2)]);
  assert.deepEqual(reads, ['0/1,1/0', '0/2']);
  fail = true;
  const failing = new MemoTileSource(inner);
  await assert.rejects(failing.readTiles([k(0, 0), k(0, 5)]), /database down/);
  // The other memoised promise of that failed read must not surface as an unhandled rejection.
  await new Promise((r) => setTimeout(r, 20));
});
