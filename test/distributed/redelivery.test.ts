import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import IORedis from 'ioredis';
import {
  SHARED_REDIS,
  HOSTNAME,
  sequencerState,
  startLoad,
  startVellum,
  until,
  untilActive,
  verifyRun,
  withDeployment,
} from './harness';

/**
 * A sequencer dies after its batch committed and before it told anyone (the window between COMMIT
 * and publishing the batch record). Its BullMQ jobs are re-delivered to the standby, which must
 * answer them with the entries already stored (same index, same SET), never sequence them again;
 * the waiting clients get 201.
 */
test('distributed: jobs re-delivered after a crash between COMMIT and publish are answered with the stored entries', (t) =>
  withDeployment(t, async (dep) => {
    const env = {
      DATA_DIR: dep.db.dataDir,
      DATABASE_URL: dep.databaseUrl,
      REDIS_URL: SHARED_REDIS,
      REDIS_PREFIX: dep.prefix,
      QUEUE_HMAC_KEY: dep.queueKey,
      ROLE: 'sequencer',
      SIGNING_KEY_PATH: dep.keyPath,
      LOG_HOSTNAME: HOSTNAME,
      BATCH_MAX_AGE_MS: '100',
      SEQUENCER_LEASE_TTL_MS: '2000',
    };
    const child = spawn(process.execPath, [join(__dirname, 'sequencer-hang-child.js')], {
      env: { ...process.env, VELLUM_TEST_ENV: JSON.stringify(env) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const childGone = new Promise<void>((r) => child.once('exit', () => r()));
    const redis = new IORedis(SHARED_REDIS);
    try {
      await until('the hanging sequencer is active', () => out.includes('active\n'), 30_000);
      // The API's database sweep would also answer these clients (correctly) once they wait
      // longer than SUBMIT_SWEEP_AFTER_MS; keep it out of the way so the re-delivery path is
      // what gets exercised, however slow the takeover is on a loaded machine.
      const api = await startVellum(dep, {
        name: 'api',
        role: 'api',
        env: { SUBMIT_SWEEP_AFTER_MS: '15000' },
      });
      const standby = await startVellum(dep, { name: 'standby', role: 'sequencer' });
      assert.equal(await sequencerState(standby), 'standby');

      const load = startLoad([api.url], 60, { concurrency: 60 });
      await until('the first batch committed', () => /committed \d+ \d+\n/.test(out), 20_000);
      const [, size, appended] = /committed (\d+) (\d+)\n/.exec(out)!.map(Number);
      assert.equal(size, appended, 'first batch of a new log');
      // Still nothing answered: the batch record was never published.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(load.count(201), 0);

      child.kill('SIGKILL');
      await childGone;
      await untilActive(standby, 10_000);
      await load.finish();
      for (const o of load.outcomes) assert.deepEqual(o.attempts, [201], 'answered 201 at the first attempt');
      const { size: final } = await verifyRun(dep, api.url, load);
      assert.equal(final, 60);

      // The standby published the committed entries as Stored (outcome 1) with their stored
      // indices, and sequenced only the rest.
      const committedLeaves = new Map<string, number>();
      for (const o of load.outcomes) {
        const idx = o.doc[Object.keys(o.doc)[0]!].logIndex as number;
        if (idx < appended!) committedLeaves.set(o.leafHex, idx);
      }
      assert.equal(committedLeaves.size, appended);
      const records = (await redis.xrange(`${dep.prefix}:batch-results`, '-', '+')) as Array<
        [string, string[]]
      >;
      const storedOutcomes = new Map<string, number>();
      for (const [, fields] of records) {
        const rec = JSON.parse(fields[1]!) as { e: Array<[string, number, number, string, number]> };
        for (const [leaf, index, , , outcome] of rec.e) {
          if (outcome === 1) storedOutcomes.set(leaf, index);
          assert.notEqual(outcome, 2, 'no re-delivered job is treated as a duplicate');
        }
      }
      assert.deepEqual(storedOutcomes, committedLeaves, 're-delivered jobs answered with the stored entries');
      const metrics = await (await fetch(`${standby.url}/metrics`)).text();
      assert.equal(Number(/^vellum_entries_sequenced_total (\d+)/m.exec(metrics)?.[1]), 60 - appended!);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await childGone;
      redis.disconnect();
    }
  }));
