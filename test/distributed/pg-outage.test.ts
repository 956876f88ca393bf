import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import {
  type Deployment,
  PgProxy,
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
