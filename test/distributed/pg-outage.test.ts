import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  type Deployment,
  LoadClient,
  PgProxy,
  bodies,
  getJson,
  startLoad,
  sequencerState,
  startActiveSequencer,
  startVellum,
  until,
  untilActive,
  verifyRun,
  withDeployment,
} from './harness';

/** A deployment with a PostgreSQL proxy the test may cut (restored state is cut at the end). */
function withProxiedDatabase(
  t: TestContext,
  fn: (dep: Deployment, proxy: PgProxy, viaProxy: string) => Promise<void>,
): Promise<void> {
  return withDeployment(t, async (dep) => {
    const proxy = await PgProxy.start();
    try {
      await fn(dep, proxy, proxy.url(new URL(dep.databaseUrl).pathname.slice(1)));
    } finally {
      await proxy.cut();
    }
  });
}

/**
 * PostgreSQL becomes unreachable (every connection reset, new ones refused, through a TCP proxy)
 * while an API process and the sequencer take load, then comes back. Meanwhile submissions get
 * clean 503s with Retry-After, never a 500 or a hang; afterwards everything recovers without a
 * restart, and no acknowledged entry is lost or duplicated (a batch whose COMMIT outcome was
 * unknown is retried by the client and answered 201 or 409 with the same entry).
 */
test('distributed: PostgreSQL outage under load: 503s, then recovery; nothing acknowledged lost', (t) =>
  withProxiedDatabase(t, async (dep, proxy, viaProxy) => {
    const seq = await startActiveSequencer(dep, { name: 'sequencer', databaseUrl: viaProxy });
    const api = await startVellum(dep, { name: 'api', role: 'api', databaseUrl: viaProxy });

    const load = startLoad([api.url], 1500, { concurrency: 32, retryPauseMs: 200 });
    await until('entries acknowledged before the outage', () => load.count(201) >= 300, 40_000);

    await proxy.cut();
    const downAt = Date.now();
    await until('503s while PostgreSQL is unreachable', () => load.count(503, downAt) >= 20, 20_000);
    const ready = await getJson(`${api.url}/ready`);
    assert.equal(ready.status, 503, 'not ready without the database');
    await new Promise((r) => setTimeout(r, 1500));

    await proxy.restore();
    const upAt = Date.now();
    await until('acknowledgements after PostgreSQL returned', () => load.count(201, upAt) >= 200, 40_000);
    await load.finish();
    t.diagnostic(
      `201: ${load.count(201)}, 409: ${load.count(409)}, 503 while down: ${load.count(503, downAt) - load.count(503, upAt)}, 503 after: ${load.count(503, upAt)}`,
    );
    await until('ready again', async () => (await getJson(`${api.url}/ready`)).status === 200, 10_000);
    assert.equal(await sequencerState(seq), 'active', 'the sequencer kept (or re-took) its lease');
    const { size } = await verifyRun(dep, api.url, load);
    assert.equal(size, 1500);
  }));

/**
 * Only the active sequencer loses PostgreSQL (its own proxy is cut; Redis stays reachable). It
 * cannot renew its lease, so it must step down and stop holding jobs; the standby, which still
 * reaches the database, takes over once the lease lapses, and the jobs the cut-off sequencer held
 * are re-delivered to it. Clients see at most 503s they retry; the log stays one log.
 */
test('distributed: the active sequencer loses the database; it steps down, the standby takes over, nothing acknowledged is lost', (t) =>
  withProxiedDatabase(t, async (dep, proxy, viaProxy) => {
    const seqA = await startActiveSequencer(dep, { name: 'sequencer-a', databaseUrl: viaProxy });
    const seqB = await startVellum(dep, { name: 'sequencer-b', role: 'sequencer' });
    const api = await startVellum(dep, { name: 'api', role: 'api' });
    assert.equal(await sequencerState(seqB), 'standby');

    const load = startLoad([api.url], 1500, { concurrency: 32, retryPauseMs: 200 });
    await until('entries acknowledged before the cut', () => load.count(201) >= 300, 40_000);
    await proxy.cut();
    const cutAt = Date.now();
    const takeover = await untilActive(seqB, 20_000);
    t.diagnostic(`standby active ${takeover} ms after the active sequencer lost the database`);
    await until('sequencer-a stepped down', async () => (await sequencerState(seqA)) !== 'active', 10_000);
    await until(
      'acknowledgements after the takeover',
      () => load.count(201, cutAt + takeover) >= 200,
      40_000,
    );
    await load.finish();
    t.diagnostic(`201: ${load.count(201)}, 409: ${load.count(409)}, 503: ${load.count(503)}`);
    const { size } = await verifyRun(dep, api.url, load);
    assert.equal(size, 1500);

    // The database comes back for sequencer-a: it stays standby (the lease is sequencer-b's).
    await proxy.restore();
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await sequencerState(seqA), 'standby');
    assert.equal(await sequencerState(seqB), 'active');
  }));

/**
 * ROLE=all on PostgreSQL without Redis (the embedded write path): the database goes away, so
 * /ready says why it cannot write (the probe's read fails, and so does every batch), then it comes
 * back and /ready recovers by itself before any write succeeds, and writes work again.
 */
test('distributed: ROLE=all on PostgreSQL: /ready 503 while the database is gone, 200 when it is back', (t) =>
  withProxiedDatabase(t, async (dep, proxy, viaProxy) => {
    // An empty REDIS_URL is unset: the in-process write path.
    const all = await startVellum(dep, { name: 'all', role: 'all', databaseUrl: viaProxy, redisUrl: '' });
    const all100 = bodies(100);
    const load = new LoadClient([all.url], all100.slice(0, 40), { concurrency: 4, retryPauseMs: 100 });
    await load.run();
    load.close();
    assert.equal((await getJson(`${all.url}/ready`)).status, 200);

    await proxy.cut();
    const down = await until(
      '/ready 503 without the database',
      async () => {
        const r = await getJson(`${all.url}/ready`);
        return r.status === 503 && /the database/.test(r.json.checks?.writes ?? '');
      },
      15_000,
    );
    t.diagnostic(`/ready 503 ${down} ms after the database went away`);
    const refused = await fetch(`${all.url}/api/v1/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: all100[40]!,
    });
    assert.equal(refused.status, 503, 'a submission without the database is refused');

    await proxy.restore();
    const up = await until(
      '/ready 200 with the database back',
      async () => (await getJson(`${all.url}/ready`)).status === 200,
      15_000,
    );
    t.diagnostic(`/ready 200 ${up} ms after the database came back`);
    // Every body again: the first 40 answer 409 (stored once), the refused one and the rest 201.
    const more = new LoadClient([all.url], all100, { concurrency: 4, retryPauseMs: 100 });
    await more.run();
    more.close();
    assert.equal(more.count(409), 40);
    const { size } = await verifyRun(dep, all.url, more);
    assert.equal(size, 100);
  }));
