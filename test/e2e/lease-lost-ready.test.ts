/**
 * Readiness when the single-writer lease is taken by another live process (an operator started a
 * second writer on the same database): the active writer can no longer commit, so /ready must
 * say so, naming the lease, and submissions must fail cleanly with nothing logged. Once the
 * other holder's lease lapses, the next submission takes the lease back, is logged, and /ready
 * recovers.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { makeHashedrekords } from '../../src/bench/bench-entries';
import { http, startTestServer } from '../support/server';
import { until } from '../support/wait';
import { verifyLogEntry } from '../support/verifier';

// Another host's holder: never mistaken for a dead process of this host.
const OTHER = 'some-other-host.example:4242:0123abcd';

test('lease taken by another live writer: /ready 503 naming the lease, submissions refused; back once it lapses', async (t) => {
  const server = await startTestServer({ env: { SEQUENCER_LEASE_TTL_MS: '1000', VERIFY_WORKERS: '1' } });
  const db = new Database(join(server.dataDir, 'vellum.db'));
  try {
    const bodies = makeHashedrekords(4, 2);
    const first = await http(`${server.url}/api/v1/log/entries`, { body: bodies[0]!.toString() });
    assert.equal(first.status, 201, first.text);
    assert.equal((await http(`${server.url}/ready`)).status, 200);

    // Steal the lease for a minute, as a second writer would (a higher fencing token).
    db.prepare('UPDATE sequencer_lease SET holder = ?, token = token + 1, expires_at = ?').run(
      OTHER,
      Date.now() + 60_000,
    );
    const refused = await http(`${server.url}/api/v1/log/entries`, { body: bodies[1]!.toString() });
    assert.ok(refused.status === 503, `a submission without the lease: ${refused.status} ${refused.text}`);
    const waited = await until(
      '/ready 503 naming the lease',
      async () => {
        const r = await http(`${server.url}/ready`);
        return r.status === 503 && /lease/.test(JSON.stringify(r.json));
      },
      10_000,
    );
    t.diagnostic(`/ready 503 ${waited} ms after the lease was taken`);
    const info = await http(`${server.url}/api/v1/log`);
    assert.equal(info.json.treeSize, 1, 'nothing was logged without the lease');

    // The other writer goes away: its lease lapses. The next submission retakes it.
    db.prepare('UPDATE sequencer_lease SET expires_at = 0').run();
    const again = await until(
      'a submission is logged again',
      async () =>
        (await http(`${server.url}/api/v1/log/entries`, { body: bodies[2]!.toString() })).status === 201,
      15_000,
    );
    t.diagnostic(`writes back ${again} ms after the lease lapsed`);
    await until('/ready 200', async () => (await http(`${server.url}/ready`)).status === 200, 10_000);
    const byIndex = await http(`${server.url}/api/v1/log/entries?logIndex=1`);
    assert.equal(byIndex.status, 200);
    assert.equal(verifyLogEntry(byIndex.json, server.ctx).logIndex, 1);
    assert.equal((await http(`${server.url}/api/v1/log`)).json.treeSize, 2);
  } finally {
    db.close();
    await server.dispose();
  }
});
