import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import fc from 'fast-check';
import { isVellumError } from '../../src/core/errors';
import type { StoredTile, TileSource } from '../../src/core/merkle/tile-store';
import type { TileKey } from '../../src/core/tiles/tiles';
import { MemoTileSource } from '../../src/modules/storage/db-tile-source';
import { jobMac, jobMacValid } from '../../src/modules/queue/job-auth';
import {
  CREATED_BUCKET_MS,
  type JobData,
  Outcome,
  RejectedJobError,
  createdKey,
  createdKeys,
  decodeJob,
  decodeRecord,
  encodeJob,
  encodeRecord,
  queueNames,
  submissionToken,
} from '../../src/modules/queue/wire';
import { makeEntry } from './storage-harness';

const KEY = Buffer.from('k'.repeat(40));

function wireJob(e = makeEntry(), token = submissionToken()): { id: string; data: JobData } {
  // Through JSON, as BullMQ stores it.
  return {
    id: e.leafHash.toString('hex'),
    data: JSON.parse(JSON.stringify(encodeJob(KEY, e, token))) as JobData,
  };
}

function rejected(f: () => unknown, why: string): void {
  assert.throws(f, (x) => x instanceof RejectedJobError && isVellumError(x, 'INTERNAL'), why);
}

test('queue wire: a job carries the prepared entry and its submission token under a MAC', () => {
  const e = makeEntry();
  const token = submissionToken();
  const { id, data } = wireJob(e, token);
  assert.deepEqual(decodeJob(KEY, id, data), { entry: e, submission: token });
  assert.notEqual(submissionToken(), token, 'tokens are random');
  rejected(() => decodeJob(KEY, makeEntry().leafHash.toString('hex'), data), 'another job id');
  rejected(() => decodeJob(Buffer.from('x'.repeat(40)), id, data), 'another key');
  rejected(() => decodeJob(KEY, id, { p: data.p }), 'no MAC');
  rejected(() => decodeJob(KEY, id, { ...data, m: 7 }), 'MAC not a string');
  rejected(() => decodeJob(KEY, id, { ...data, m: data.m.slice(0, -4) }), 'short MAC');
  rejected(() => decodeJob(KEY, id, { ...data, m: wireJob().data.m }), "another job's MAC");
  rejected(() => decodeJob(KEY, id.toUpperCase(), data), 'id not lowercase hex');
  rejected(() => decodeJob(KEY, undefined, data), 'no id');
  for (const bad of [null, 7, {}, { b: data.p }, { p: 5, m: data.m }])
    rejected(() => decodeJob(KEY, id, bad), 'shape');
  // A well-MACed payload that is not a job (a key holder's bug, not an attacker) is still refused.
  const p = JSON.stringify({ b: 5 });
  rejected(() => decodeJob(KEY, id, { p, m: jobMac(KEY, id, p) }), 'malformed payload');
  const body = JSON.stringify({ ...(JSON.parse(data.p) as object), b: makeEntry().body.toString('base64') });
  rejected(() => decodeJob(KEY, id, { p: body, m: jobMac(KEY, id, body) }), 'body not hashing to the id');
});

test('queue wire: the job MAC is HMAC-SHA256 over the context line, the id and the payload (openssl)', () => {
  const { id, data } = wireJob();
  const hex = execFileSync('openssl', ['dgst', '-sha256', '-hmac', KEY.toString(), '-r'], {
    input: `vellum queue job v1\n${id}\n${data.p}`,
  })
    .toString()
    .split(' ')[0]!;
  assert.equal(Buffer.from(data.m, 'base64').toString('hex'), hex);
  assert.equal(jobMacValid(KEY, id, data.p, data.m), true);
});

test("queue wire (property): any change to a job's payload, MAC or id is refused; junk data never gets past the check", () => {
  const { id, data } = wireJob();
  fc.assert(
    fc.property(
      fc.constantFrom('p', 'm', 'id'),
      fc.nat(),
      fc.integer({ min: 1, max: 0xffff }),
      (field, at, delta) => {
        const s = field === 'p' ? data.p : field === 'm' ? data.m : id;
        const i = at % s.length;
        const changed =
          s.slice(0, i) + String.fromCharCode((s.charCodeAt(i) + delta) % 0x10000) + s.slice(i + 1);
        if (changed === s) return;
        const d = field === 'p' ? { ...data, p: changed } : field === 'm' ? { ...data, m: changed } : data;
        const jobId = field === 'id' ? changed : id;
        // Base64 ignores some changes to padding bits: such an m decodes to the same MAC bytes.
        if (field === 'm' && Buffer.from(changed, 'base64').equals(Buffer.from(data.m, 'base64'))) return;
        rejected(() => decodeJob(KEY, jobId, d), `${field} changed at ${i}`);
      },
    ),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.option(fc.string({ maxLength: 80 })), fc.anything(), (jobId, junk) => {
      rejected(() => decodeJob(KEY, jobId ?? undefined, junk), 'junk');
    }),
    { numRuns: 300 },
  );
});

test('queue wire (property): the created-marker hashes a replica reads cover the minute its entry was committed', () => {
  const names = queueNames('p');
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 42 }),
      fc.integer({ min: 0, max: 600_000 }),
      fc.integer({ min: 0, max: 600_000 }),
      fc.integer({ min: -CREATED_BUCKET_MS, max: CREATED_BUCKET_MS }),
      (since, committedAfter, lookedUpAfter, skew) => {
        const committed = since + committedAfter;
        const now = committed + lookedUpAfter;
        assert.ok(createdKeys(names, since, now).includes(createdKey(names, committed + skew)));
      },
    ),
  );
});

test('queue wire: batch records round-trip; malformed ones are rejected', () => {
  const cp = { size: 12, rootHash: Buffer.alloc(32, 3), note: 'note\n' };
  const rec = {
    checkpoint: cp,
    entries: [
      ['aa'.repeat(32), 10, 1700000000, 'c2V0', Outcome.Appended, 'tok-a'],
      ['bb'.repeat(32), 3, 1690000000, 'c2V0', Outcome.Stored, 'tok-b'],
      ['cc'.repeat(32), 4, 0, '', Outcome.Duplicate, ''],
    ] as const,
  };
  assert.deepEqual(decodeRecord(encodeRecord(rec)), rec);
  const failed = { entries: [], failed: { leaves: ['dd'.repeat(32)], message: 'database down' } };
  assert.deepEqual(decodeRecord(encodeRecord(failed)), failed);
  for (const bad of [
    '{}',
    '{"e":[["aa",1,2,"",0,""]]}', // entries without a checkpoint
    `{"s":1,"r":"${'00'.repeat(32)}","c":"n","e":[["aa",1,2,"",0]]}`, // no submission token
    '{"s":1,"r":"00","c":"n","e":[]}', // short root
    `{"s":1,"r":"${'00'.repeat(32)}","c":"n","e":[["aa",1.5,2,"",0,""]]}`,
    `{"s":1,"r":"${'00'.repeat(32)}","c":"n","e":[["aa",1,2,"",7,""]]}`,
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
