import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Fixture, dsse, hashedrekord, intoto, newP256Key } from '../e2e/fixtures';
import { postEntry as post } from '../support/server';
import { type LogContext, verifyConsistency, verifyLogEntry } from '../support/verifier';
import {
  LoadClient,
  type Deployment,
  bodies,
  deployment,
  getJson,
  logContext,
  needServices,
  sequencerState,
  startVellum,
  until,
  verifyRun,
} from './harness';

/**
 * The medium end-to-end flow against one API URL: the three entry kinds are logged and verify
 * independently, read back by UUID and index, found by the search index, duplicates get 409 with
 * Location, and the checkpoints seen are consistent.
 */
async function flow(url: string, ctx: LogContext): Promise<void> {
  const key = newP256Key();
  const fixtures: Fixture[] = [hashedrekord(key), dsse(key), intoto(key)];
  const sizes: Array<{ size: number; root: Buffer }> = [];
  for (const f of fixtures) {
    const r = await post(url, f.proposed);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const v = verifyLogEntry(r.json, ctx);
    assert.ok(v.body.equals(f.canonical), `${f.kind}: canonical body stored`);
    assert.equal(r.headers.get('location'), `/api/v1/log/entries/${v.entryId}`);
    sizes.push({ size: v.checkpoint.size, root: v.checkpoint.rootHash });

    const byUuid = await getJson(`${url}/api/v1/log/entries/${v.entryId}`);
    assert.equal(byUuid.status, 200);
    assert.equal(verifyLogEntry(byUuid.json, ctx).logIndex, v.logIndex);
    const byIndex = await getJson(`${url}/api/v1/log/entries?logIndex=${v.logIndex}`);
    assert.equal(byIndex.status, 200);
    assert.equal(verifyLogEntry(byIndex.json, ctx).entryId, v.entryId);

    const again = await post(url, f.proposed);
    assert.equal(again.status, 409);
    assert.equal(again.headers.get('location'), `/api/v1/log/entries/${v.entryId}`);
  }
  const h = fixtures[0] as Fixture & { digest: string };
  const found = await fetch(`${url}/api/v1/index/retrieve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hash: `sha256:${h.digest}` }),
  });
  assert.equal(found.status, 200);
  assert.equal(((await found.json()) as string[]).length, 1);
  const [first, last] = [sizes[0]!, sizes.at(-1)!];
  assert.ok(last.size > first.size);
  const proof = await getJson(`${url}/api/v1/log/proof?firstSize=${first.size}&lastSize=${last.size}`);
  assert.equal(proof.status, 200);
  verifyConsistency(
    first.size,
    last.size,
    (proof.json.hashes as string[]).map((x) => Buffer.from(x, 'hex')),
    first.root,
    last.root,
  );
}

async function withDeployment(fn: (dep: Deployment) => Promise<void>): Promise<void> {
  const dep = await deployment();
  try {
    await fn(dep);
  } finally {
    await dep.cleanup();
  }
}

test('postgres: ROLE=all on PostgreSQL with the in-process queue, then restarted with REDIS_URL (BullMQ inside one process): the end-to-end flow continues one log', async (t) => {
  if (!(await needServices(t))) return;
  await withDeployment(async (dep) => {
    const a = await startVellum(dep, { name: 'all', role: 'all', env: { REDIS_URL: '' } });
    const ctx = await logContext(a.url);
    await flow(a.url, ctx);
    const before = (await getJson(`${a.url}/api/v1/log`)).json;
    assert.equal(await a.stop(), 0, 'graceful stop');
    const b = await startVellum(dep, { name: 'all-with-redis', role: 'all' });
    const after = (await getJson(`${b.url}/api/v1/log`)).json;
    assert.equal(after.signedTreeHead, before.signedTreeHead, 'same log, same checkpoint after restart');
    // The sequencer half activates in the background (entries queue in Redis until it does).
    await until('sequencer active', async () =>
      /sequencer active, redis connected/.test(JSON.stringify((await getJson(`${b.url}/ready`)).json)),
    );
    await flow(b.url, ctx);
    assert.equal((await getJson(`${b.url}/api/v1/log`)).json.treeSize, 6);
  });
});

test('postgres + Redis: a sequencer and two API replicas booted together on an empty database; the flow through a replica; duplicates across replicas', async (t) => {
  if (!(await needServices(t))) return;
  await withDeployment(async (dep) => {
    // All three migrate the empty database at once (advisory lock); the replicas wait for the
    // sequencer to publish the key and the first checkpoint.
    const [seq, api1, api2] = await Promise.all([
      startVellum(dep, { name: 'sequencer', role: 'sequencer' }),
      startVellum(dep, { name: 'api-1', role: 'api' }),
      startVellum(dep, { name: 'api-2', role: 'api' }),
    ]);
    await until('sequencer active', async () => (await sequencerState(seq)) === 'active');
    const ctx = await logContext(api1.url);
    await flow(api1.url, ctx);

    // The same entry on both replicas at once, many times: one copy; exactly one submission
    // gets 201, every other 409, all naming that entry.
    const f = hashedrekord(newP256Key());
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => post(i % 2 === 0 ? api1.url : api2.url, f.proposed)),
    );
    const ids = new Set<string>();
    for (const r of answers) {
      assert.ok(r.status === 201 || r.status === 409, `status ${r.status}`);
      if (r.status === 201) ids.add(verifyLogEntry(r.json, ctx).entryId);
      ids.add(r.headers.get('location')!.split('/').at(-1)!);
    }
    assert.equal(ids.size, 1, 'every answer names the same entry');
    assert.equal(answers.filter((r) => r.status === 201).length, 1, 'exactly one 201');
    const info = (await getJson(`${api2.url}/api/v1/log`)).json;
    assert.equal(info.treeSize, 4, 'three flow entries and one copy of the duplicate');

    // /metrics and /ready in both roles.
    for (const p of [seq, api1]) {
      const m = await (await fetch(`${p.url}/metrics`)).text();
      for (const name of ['vellum_queue_depth', 'vellum_http_request_duration_seconds_count']) {
        assert.match(m, new RegExp(`^${name}`, 'm'), `${p.name} exports ${name}`);
      }
    }
    const m = await (await fetch(`${seq.url}/metrics`)).text();
    for (const name of [
      'vellum_batch_size_count',
      'vellum_batch_age_seconds_count',
      'vellum_sequencing_latency_seconds_count',
      'vellum_checkpoint_size 4',
      'vellum_entries_sequenced_total 4',
    ]) {
      assert.match(m, new RegExp(`^${name}`, 'm'), `sequencer exports ${name}`);
    }
  });
});

test('postgres + Redis: beyond MAX_PENDING queued entries submissions get 503 + Retry-After; a waiting submission times out with 503; retries get the same entries', async (t) => {
  if (!(await needServices(t))) return;
  await withDeployment(async (dep) => {
    const seq = await startVellum(dep, { name: 'sequencer', role: 'sequencer' });
    const api = await startVellum(dep, {
      name: 'api',
      role: 'api',
      env: { MAX_PENDING: '20', SUBMIT_TIMEOUT_MS: '2500' },
    });
    // No sequencer: entries queue up in Redis.
    assert.equal(await seq.stop(), 0);
    const list = bodies(40);
    const first = await Promise.all(
      list.map((b) =>
        fetch(`${api.url}/api/v1/log/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: b,
        }).then(async (r) => ({
          status: r.status,
          retryAfter: r.headers.get('retry-after'),
          body: await r.text(),
        })),
      ),
    );
    const pushedBack = first.filter((r) => r.status === 503 && /waiting to be sequenced/.test(r.body));
    const timedOut = first.filter((r) => r.status === 503 && /not sequenced within/.test(r.body));
    t.diagnostic(`pushed back ${pushedBack.length}, timed out ${timedOut.length}`);
    // Never more than MAX_PENDING admitted, however the 40 arrive against the depth reads.
    assert.ok(pushedBack.length >= 20, `${pushedBack.length} pushed back`);
    assert.ok(timedOut.length >= 1 && timedOut.length <= 20, `${timedOut.length} timed out`);
    assert.equal(pushedBack.length + timedOut.length, 40, 'nothing else happened without a sequencer');
    for (const r of first) assert.match(r.retryAfter ?? '', /^[0-9]+$/, 'Retry-After on every 503');
    const depth = Number(
      /^vellum_queue_depth (\d+)/m.exec(await (await fetch(`${api.url}/metrics`)).text())?.[1],
    );
    assert.equal(depth, timedOut.length, 'the timed-out entries are still queued');

    // A sequencer returns: the queued entries are logged; every retry gets its entry once.
    await startVellum(dep, { name: 'sequencer-2', role: 'sequencer' });
    const load = new LoadClient([api.url], list, { concurrency: 8 });
    await load.run();
    load.close();
    const { size } = await verifyRun(dep, api.url, load);
    assert.equal(size, 40);
  });
});

test('ROLE=api: a PUBLIC_KEY_PATH that is not the log key stops the boot naming it; ROLE=api without REDIS_URL is a config error; ROLE=monitor serves health, readiness, metrics only', async (t) => {
  if (!(await needServices(t))) return;
  await withDeployment(async (dep) => {
    await startVellum(dep, { name: 'sequencer', role: 'sequencer' });
    const wrong = join(dep.db.dataDir, 'other.pub.pem');
    writeFileSync(
      wrong,
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({
        type: 'spki',
        format: 'pem',
      }) as string,
    );
    await assert.rejects(
      startVellum(dep, { name: 'api-wrong-key', role: 'api', env: { PUBLIC_KEY_PATH: wrong } }),
      /exited with 1 during startup[\s\S]*PUBLIC_KEY_PATH: .*does not verify/,
    );
    await assert.rejects(
      startVellum(dep, { name: 'api-no-redis', role: 'api', env: { REDIS_URL: '' } }),
      /config error: REDIS_URL: ROLE=api needs REDIS_URL/,
    );
    // The right public key works, without reading it from the database.
    const pub = join(dep.db.dataDir, 'log.pub.pem');
    const seqKey = (await import('node:crypto')).createPublicKey(
      (await import('node:fs')).readFileSync(dep.keyPath, 'utf8'),
    );
    writeFileSync(pub, seqKey.export({ type: 'spki', format: 'pem' }) as string);
    const api = await startVellum(dep, { name: 'api', role: 'api', env: { PUBLIC_KEY_PATH: pub } });
    await until('ready', async () => (await getJson(`${api.url}/ready`)).status === 200);

    // ROLE=monitor: no private key, no Redis, no Rekor API; health, readiness and metrics.
    const mon = await startVellum(dep, { name: 'monitor', role: 'monitor', env: { REDIS_URL: '' } });
    assert.doesNotMatch(mon.output(), /log key from|generated a new/);
    const ready = await getJson(`${mon.url}/ready`);
    assert.equal(ready.status, 200);
    assert.equal(ready.json.role, 'monitor');
    assert.equal((await getJson(`${mon.url}/health`)).status, 200);
    assert.match(await (await fetch(`${mon.url}/metrics`)).text(), /^vellum_tree_size 0$/m);
    assert.equal((await fetch(`${mon.url}/api/v1/log/entries`, { method: 'POST', body: '{}' })).status, 404);
  });
});
