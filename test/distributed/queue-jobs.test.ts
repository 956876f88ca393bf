/**
 * The Redis hand-off against hostile and racing clients: jobs written straight into Redis are
 * sequenced only with a valid MAC under the deployment's QUEUE_HMAC_KEY, and the same entry
 * submitted to two API replicas at once gets exactly one 201, every other submission a 409
 * naming the same stored entry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { leafHash } from '../../src/core/merkle/hash';
import { encodeJob, queueNames, submissionToken } from '../../src/modules/queue/wire';
import { hashedrekord, newP256Key } from '../e2e/fixtures';
import { makeEntry } from '../modules/storage-harness';
import { postEntry as post } from '../support/server';
import { verifyLogEntry } from '../support/verifier';
import {
  SHARED_REDIS,
  deployment,
  getJson,
  logContext,
  needServices,
  sequencerState,
  startVellum,
  until,
} from './harness';

function metric(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 'NaN');
}

test('distributed: jobs written straight into Redis with a bad or missing MAC are dropped, never logged; a well-MACed one is logged', async (t) => {
  if (!(await needServices(t))) return;
  const dep = await deployment();
  const names = queueNames(dep.prefix);
  const queue = new Queue(names.queue, { connection: { url: SHARED_REDIS }, prefix: names.prefix });
  try {
    const seq = await startVellum(dep, { name: 'sequencer', role: 'sequencer' });
    const api = await startVellum(dep, { name: 'api', role: 'api' });
    await until('sequencer active', async () => (await sequencerState(seq)) === 'active');

    const forgedKey = makeEntry('forged key');
    const noMac = makeEntry('no MAC');
    const swapped = makeEntry('MAC of another job');
    const good = makeEntry('well MACed');
    const key = Buffer.from(dep.queueKey);
    const goodJob = encodeJob(key, good, submissionToken());
    const otherJob = encodeJob(key, makeEntry('other'), submissionToken());
    const hex = (e: { leafHash: Buffer }) => e.leafHash.toString('hex');
    await queue.addBulk([
      {
        name: 'entry',
        data: encodeJob(Buffer.from('x'.repeat(64)), forgedKey, submissionToken()),
        opts: { jobId: hex(forgedKey) },
      },
      // The payload of a real job, without its MAC (as a pre-MAC version would write it).
      { name: 'entry', data: { p: encodeJob(key, noMac, submissionToken()).p }, opts: { jobId: hex(noMac) } },
      {
        name: 'entry',
        data: { p: encodeJob(key, swapped, 't').p, m: otherJob.m },
        opts: { jobId: hex(swapped) },
      },
      { name: 'entry', data: goodJob, opts: { jobId: hex(good) } },
    ]);

    const stored = async (e: { leafHash: Buffer }) =>
      (await dep.db.exec('SELECT idx FROM entries WHERE leaf_hash = ?', [e.leafHash])).length > 0;
    await until('the well-MACed job is logged', () => stored(good));
    await until(
      'the three refused jobs are counted',
      async () =>
        metric(await (await fetch(`${seq.url}/metrics`)).text(), 'vellum_queue_jobs_rejected_total') === 3,
    );
    // Refused jobs are failed and removed, not left to be retried.
    await until(
      'the refused jobs are gone from Redis',
      async () => (await queue.getJobCounts('wait', 'active', 'failed')).wait === 0,
    );
    for (const e of [forgedKey, noMac, swapped])
      assert.equal(await stored(e), false, 'refused job not logged');
    assert.equal((await getJson(`${api.url}/api/v1/log`)).json.treeSize, 1, 'only the well-MACed entry');
    const lines = seq
      .output()
      .split('\n')
      .filter((l) => /refused a queue job/.test(l));
    assert.ok(lines.length >= 1 && lines.length < 3, `one alert line, rate-limited:\n${lines.join('\n')}`);
    assert.match(lines[0]!, /ERROR/);
    assert.match(lines[0]!, /MAC/);
    assert.ok(leafHash(good.body).equals(good.leafHash));
  } finally {
    await queue.close();
    await dep.cleanup();
  }
});

test('distributed: the same entry sent to two API replicas at once, many rounds: exactly one 201, every other 409 with its Location', async (t) => {
  if (!(await needServices(t))) return;
  const dep = await deployment();
  try {
    const [seq, api1, api2] = await Promise.all([
      startVellum(dep, { name: 'sequencer', role: 'sequencer' }),
      startVellum(dep, { name: 'api-1', role: 'api' }),
      startVellum(dep, { name: 'api-2', role: 'api' }),
    ]);
    await until('sequencer active', async () => (await sequencerState(seq)) === 'active');
    const ctx = await logContext(api1.url);
    const rounds = 25;
    const perRound = 6;
    for (let round = 0; round < rounds; round++) {
      const f = hashedrekord(newP256Key());
      const answers = await Promise.all(
        Array.from({ length: perRound }, (_, i) => post(i % 2 === 0 ? api1.url : api2.url, f.proposed)),
      );
      const created = answers.filter((r) => r.status === 201);
      const statuses = answers.map((r) => r.status).join(',');
      assert.equal(created.length, 1, `round ${round}: exactly one 201 (${statuses})`);
      assert.equal(
        answers.filter((r) => r.status === 409).length,
        perRound - 1,
        `round ${round}: ${statuses}`,
      );
      const v = verifyLogEntry(created[0]!.json, ctx);
      const location = `/api/v1/log/entries/${v.entryId}`;
      for (const r of answers) assert.equal(r.headers.get('location'), location, `round ${round}`);
    }
    assert.equal((await getJson(`${api2.url}/api/v1/log`)).json.treeSize, rounds, 'one copy per round');
  } finally {
    await dep.cleanup();
  }
});
