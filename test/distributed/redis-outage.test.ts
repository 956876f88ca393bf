import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  OwnRedis,
  getJson,
  startLoad,
  startActiveSequencer,
  startVellum,
  until,
  verifyRun,
  withDeployment,
} from './harness';

/**
 * Redis dies (kill -9, no persistence: every queued job and batch record is lost) while two API
 * processes take load, then comes back on the same port. While it is gone submissions get clean
 * 503s with Retry-After; afterwards everything recovers without restarting anything, and no
 * acknowledged entry is lost or duplicated.
 */
test('distributed: Redis killed and restarted under load: 503s, then recovery; nothing acknowledged lost', (t) =>
  withDeployment(
    t,
    async (dep) => {
      const redis = await OwnRedis.start();
      try {
        await startActiveSequencer(dep, { name: 'sequencer', redisUrl: redis.url });
        const [api1, api2] = await Promise.all([
          startVellum(dep, { name: 'api-1', role: 'api', redisUrl: redis.url }),
          startVellum(dep, { name: 'api-2', role: 'api', redisUrl: redis.url }),
        ]);

        const load = startLoad([api1.url, api2.url], 2000, {
          concurrency: 32,
          retryPauseMs: 200,
        });
        await until('entries acknowledged before the outage', () => load.count(201) >= 400, 40_000);

        await redis.kill();
        const downAt = Date.now();
        await until('503s while Redis is down', () => load.count(503, downAt) >= 20, 15_000);
        const ready = await getJson(`${api1.url}/ready`);
        assert.equal(ready.status, 503, 'an API replica without Redis is not ready');
        assert.match(JSON.stringify(ready.json), /redis unreachable/);
        await new Promise((r) => setTimeout(r, 1500));

        await redis.restart();
        const upAt = Date.now();
        await until('acknowledgements after Redis returned', () => load.count(201, upAt) >= 300, 40_000);
        await load.finish();
        t.diagnostic(
          `201: ${load.count(201)}, 409: ${load.count(409)}, 503 while down: ${load.count(503, downAt) - load.count(503, upAt)}, 503 after: ${load.count(503, upAt)}`,
        );
        assert.equal((await getJson(`${api2.url}/ready`)).status, 200, 'ready again');
        const { size } = await verifyRun(dep, api1.url, load);
        assert.equal(size, 2000);
      } finally {
        await redis.kill();
      }
    },
    { redisServerBinary: true },
  ));
