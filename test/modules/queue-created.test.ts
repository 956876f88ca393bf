/**
 * The sequencer's record of which submission created each entry, on the real Redis: what a
 * replica that missed the batch record reads back from the `created` hashes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import IORedis from 'ioredis';
import { VellumError } from '../../src/core/errors';
import type { AcceptedEntry, StoredEntry } from '../../src/modules/log/log.types';
import { RedisBatchSink } from '../../src/modules/queue/redis-batch-sink';
import { readCreators } from '../../src/modules/queue/submission-answers';
import { Outcome, decodeRecord, queueNames, submissionToken } from '../../src/modules/queue/wire';
import type { QueueTicket } from '../../src/modules/write-path/entry-queue';
import { deleteKeys, SHARED_REDIS } from '../distributed/harness';
import { makeEntry } from './storage-harness';

function ticket(submission: string, redelivered = false) {
  const answers: Array<AcceptedEntry | VellumError> = [];
  const t: QueueTicket = {
    entry: makeEntry(),
    enqueuedAt: 0,
    redelivered,
    submission,
    resolve: (a) => answers.push(a),
    reject: (e) => answers.push(e),
  };
  return { t, answers };
}

function stored(t: QueueTicket, index: number): StoredEntry {
  const e = t.entry;
  return { ...e, index, integratedTime: 1_700_000_000, set: Buffer.from('set') };
}

test('created markers: appended and re-delivered-stored entries name their job; duplicates name none', async () => {
  const prefix = `vt-created-${randomBytes(4).toString('hex')}`;
  const names = queueNames(prefix);
  const client = new IORedis(SHARED_REDIS, { maxRetriesPerRequest: 1 });
  try {
    const appended = ticket(submissionToken());
    const redelivered = ticket(submissionToken(), true);
    const duplicate = ticket(submissionToken());
    const repeat = ticket(appended.t.submission!);
    const sink = new RedisBatchSink(client, names);
    const checkpoint = { size: 8, rootHash: Buffer.alloc(32, 1), note: 'n\n' };
    const before = Date.now();
    await sink.committed({
      checkpoint,
      appended: [{ ticket: appended.t, entry: stored(appended.t, 7) }],
      stored: [
        { ticket: redelivered.t, index: 3, entry: stored(redelivered.t, 3) },
        { ticket: duplicate.t, index: 2 },
      ],
      repeats: [{ ticket: repeat.t, index: 7 }],
    });
    await sink.drained();
    const hex = (x: { t: QueueTicket }) => x.t.entry.leafHash.toString('hex');
    const all = [appended, redelivered, duplicate, repeat].map(hex);
    const creators = await readCreators(client, names, all, before, Date.now());
    assert.equal(creators.get(hex(appended)), appended.t.submission);
    assert.equal(creators.get(hex(redelivered)), redelivered.t.submission);
    assert.equal(creators.has(hex(duplicate)), false, 'stored before this job: nobody created it here');
    assert.equal(creators.size, 2);
    const ttl = await client.ttl(`${names.created}:${Math.floor(Date.now() / 60_000)}`);
    assert.ok(ttl > 0 && ttl <= 20 * 60, `the hash expires (ttl ${ttl})`);

    const [[, fields]] = (await client.xrange(names.results, '-', '+')) as Array<[string, string[]]>;
    const rec = decodeRecord(fields[1]!);
    const byLeaf = new Map(rec.entries.map((e) => [e[0], e]));
    assert.deepEqual(
      [byLeaf.get(hex(appended))![4], byLeaf.get(hex(appended))![5]],
      [Outcome.Appended, appended.t.submission],
    );
    assert.deepEqual(byLeaf.get(hex(redelivered))!.slice(4), [Outcome.Stored, redelivered.t.submission]);
    assert.deepEqual(byLeaf.get(hex(duplicate))!.slice(4), [Outcome.Duplicate, '']);
    assert.equal(rec.entries.filter((e) => e[0] === hex(repeat) && e[4] === Outcome.Duplicate).length, 1);
    for (const x of [appended, redelivered, duplicate, repeat])
      assert.equal(x.answers.length, 1, 'settled once');
  } finally {
    await deleteKeys(SHARED_REDIS, prefix);
    client.disconnect();
  }
});

test('batch records go out behind the commit, in commit order, each batch settled after its record', async () => {
  const prefix = `vt-created-${randomBytes(4).toString('hex')}`;
  const names = queueNames(prefix);
  const client = new IORedis(SHARED_REDIS, { maxRetriesPerRequest: 1 });
  try {
    const sink = new RedisBatchSink(client, names);
    const first = ticket(submissionToken());
    const second = ticket(submissionToken());
    const failed = ticket(submissionToken());
    const cp = (size: number) => ({ size, rootHash: Buffer.alloc(32, size), note: `n${size}\n` });
    const settledAtRecord: number[] = [];
    const streamLength = () => client.xlen(names.results);
    first.t.resolve = () => void streamLength().then((n) => settledAtRecord.push(n));
    second.t.resolve = () => void streamLength().then((n) => settledAtRecord.push(n));
    await sink.committed({
      checkpoint: cp(1),
      appended: [{ ticket: first.t, entry: stored(first.t, 0) }],
      stored: [],
      repeats: [],
    });
    await sink.committed({
      checkpoint: cp(2),
      appended: [{ ticket: second.t, entry: stored(second.t, 1) }],
      stored: [],
      repeats: [],
    });
    await sink.failed([failed.t], new VellumError('UNAVAILABLE', 'not committed'));
    // Handed over without waiting for Redis: nothing is settled yet.
    assert.deepEqual(settledAtRecord, []);
    assert.equal(failed.answers.length, 0);
    await sink.drained();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(failed.answers.length, 1);
    // Each ticket was settled once its own record (and the ones before) was on the stream.
    assert.ok(
      settledAtRecord.length === 2 && settledAtRecord[0]! >= 1 && settledAtRecord[1]! >= 2,
      `${settledAtRecord}`,
    );
    const recs = ((await client.xrange(names.results, '-', '+')) as Array<[string, string[]]>).map(([, f]) =>
      decodeRecord(f[1]!),
    );
    assert.deepEqual(
      recs.map((r) => r.checkpoint?.size ?? `failed ${r.failed?.leaves.length}`),
      [1, 2, 'failed 1'],
    );
  } finally {
    await deleteKeys(SHARED_REDIS, prefix);
    client.disconnect();
  }
});
