import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
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

/**
 * Two API processes and two sequencer processes on PostgreSQL + Redis under concurrent load.
 * The active sequencer is killed with SIGKILL while batches are flowing; the standby must take
 * over within a few seconds, and in the end every acknowledged entry is in the log at its index
 * with a verifying proof, nothing is in the log twice, and every checkpoint any client saw is
 * consistent with every later one.
 */
test('distributed: kill -9 of the active sequencer under load; the standby takes over, nothing acknowledged is lost', (t) =>
  withDeployment(t, async (dep) => {
    const seqA = await startActiveSequencer(dep, { name: 'sequencer-a' });
    const [seqB, api1, api2] = await Promise.all([
      startVellum(dep, { name: 'sequencer-b', role: 'sequencer' }),
      startVellum(dep, { name: 'api-1', role: 'api' }),
      startVellum(dep, { name: 'api-2', role: 'api' }),
    ]);
    assert.equal(await sequencerState(seqB), 'standby');
    // API replicas hold no private key and never sequence.
    const apiReady = (await getJson(`${api1.url}/ready`)).json;
    assert.equal(apiReady.role, 'api');
    assert.doesNotMatch(JSON.stringify(apiReady), /sequencer/);
    assert.doesNotMatch(api1.output(), /log key from|generated a new/);

    const load = startLoad([api1.url, api2.url], 3000, { concurrency: 48, retryPauseMs: 150 });

    await until('some entries acknowledged', () => load.count(201) >= 600, 40_000);
    const killedAt = Date.now();
    await seqA.kill9();
    const takeover = await untilActive(seqB, 15_000);
    t.diagnostic(`standby active ${takeover} ms after kill -9`);
    assert.ok(takeover < 10_000, `takeover took ${takeover} ms`);
    await until(
      'acknowledgements after the takeover',
      () => load.count(201, killedAt + takeover) >= 200,
      40_000,
    );

    await load.finish();
    const firstAfter = load.samples.find((s) => s.at > killedAt && s.status === 201);
    t.diagnostic(
      `201: ${load.count(201)}, 409: ${load.count(409)}, 503: ${load.count(503)}; first 201 after the kill: ${firstAfter ? firstAfter.at - killedAt : -1} ms`,
    );

    const { size, checkpoints } = await verifyRun(dep, api2.url, load);
    assert.equal(size, 3000);
    t.diagnostic(`log size ${size}, ${checkpoints} distinct checkpoints checked for consistency`);

    // The standby signs with the same key and tree: the metrics show it sequenced the rest.
    const metrics = await (await fetch(`${seqB.url}/metrics`)).text();
    assert.match(metrics, /^vellum_sequencer_active 1$/m);
    const sequenced = Number(/^vellum_entries_sequenced_total (\d+)/m.exec(metrics)?.[1] ?? '0');
    assert.ok(sequenced > 0 && sequenced < 3000, `sequencer-b sequenced ${sequenced}`);
  }));
