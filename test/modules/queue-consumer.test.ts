/**
 * The sequencer's BullMQ consumer on the real Redis: a burst of jobs reaches the batcher side by
 * side through several workers, and a batch's jobs complete once their tickets are answered.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import type { SignedCheckpoint } from '../../src/modules/log/log.types';
import { BullConsumer } from '../../src/modules/queue/bull-consumer';
import { encodeJob, queueNames, submissionToken } from '../../src/modules/queue/wire';
import { InProcessQueue } from '../../src/modules/write-path/entry-queue';
import { deleteKeys, SHARED_REDIS } from '../distributed/harness';
import { makeEntry } from './storage-harness';

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('split: workers share the concurrency, never more workers than jobs', () => {
  assert.deepEqual(BullConsumer.split(2048, 4), { workers: 4, each: 512 });
  assert.deepEqual(BullConsumer.split(10, 4), { workers: 4, each: 3 });
  assert.deepEqual(BullConsumer.split(2, 4), { workers: 2, each: 1 });
  assert.deepEqual(BullConsumer.split(5, 0), { workers: 1, each: 5 });
});

test('a burst of jobs is in hand at once across the workers, and completes when answered', async () => {
  const prefix = `vt-consumer-${randomBytes(4).toString('hex')}`;
  const names = queueNames(prefix);
  const key = randomBytes(32);
  const queue = new InProcessQueue(Date.now);
  const consumer = new BullConsumer(
    { url: SHARED_REDIS, names, concurrency: 12, fetchers: 4, lockMs: 30_000, stalledCheckMs: 30_000, key },
    queue,
  );
  const producer = new Queue(names.queue, { connection: { url: SHARED_REDIS }, prefix: names.prefix });
  try {
    const entries = Array.from({ length: 12 }, () => makeEntry());
    await producer.addBulk(
      entries.map((e) => ({
        name: 'e',
        data: encodeJob(key, e, submissionToken()),
        opts: { jobId: e.leafHash.toString('hex') },
      })),
    );
    consumer.start();
    // All twelve held at once: one worker of concurrency 3 could hold only three.
    await until('all jobs in the batcher queue', () => queue.length === 12);
    // Four BullMQ workers, each fetching on its own connection (BullMQ names them after the queue).
    assert.equal(await producer.getWorkersCount(), 4);
    const tickets = queue.take(100);
    assert.deepEqual(
      new Set(tickets.map((t) => t.entry.leafHash.toString('hex'))),
      new Set(entries.map((e) => e.leafHash.toString('hex'))),
    );
    assert.ok(tickets.every((t) => !t.redelivered && t.submission !== undefined));
    const cp = { size: 12 } as SignedCheckpoint;
    tickets.forEach((t, i) =>
      t.resolve({
        entry: { ...t.entry, index: i, integratedTime: 1, set: Buffer.alloc(0) },
        checkpoint: cp,
        inclusionProof: [],
      }),
    );
    const end = Date.now() + 10_000;
    let counts: Record<string, number> = {};
    while (Date.now() < end) {
      counts = await producer.getJobCounts('wait', 'active', 'failed', 'completed');
      if (counts.active === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(counts, { wait: 0, active: 0, failed: 0, completed: 0 });
  } finally {
    await consumer.close();
    await producer.close();
    await deleteKeys(SHARED_REDIS, prefix);
  }
});
