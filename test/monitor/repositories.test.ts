/**
 * The monitor repositories against the real databases: a SQLite file and PostgreSQL (a fresh
 * database per run). Round-trips of state and cursor, rules, the identity index, expectations,
 * webhooks and backfills, and the compare-and-set writes (cursor, backfill progress) losing
 * when they should. Alerts and the outbox are in repositories-outbox.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DBS, open, webhook, withDb } from './repositories-harness';

for (const [kind, make] of DBS) {
  test(`${kind}: state and cursor round-trip; the cursor advance is compare-and-set`, async (t) => {
    const r = await open(t, await withDb(t, make));
    assert.equal(await r.state.getState('k'), undefined);
    await r.db.transaction((tx) => r.state.setState(tx, 'k', 'one'));
    await r.db.transaction((tx) => r.state.setState(tx, 'k', 'two'));
    assert.equal(await r.state.getState('k'), 'two');
    await r.db.transaction((tx) => r.state.setState(tx, 'k', undefined));
    assert.equal(await r.state.getState('k'), undefined);

    const start = await r.state.getCursor();
    assert.equal(start.nextIndex, 0);
    assert.equal(start.checkpointRoot, undefined);
    const root = Buffer.alloc(32, 7);
    const next = {
      nextIndex: 5,
      checkpointSize: 9,
      checkpointRoot: root,
      checkpointNote: 'note\n',
      compactRange: ['aa', 'bb'],
    };
    assert.equal(await r.db.transaction((tx) => r.state.advanceCursor(tx, start, next, 42)), true);
    const c = await r.state.getCursor();
    assert.deepEqual(
      { ...c, checkpointRoot: c.checkpointRoot?.toString('hex') },
      { ...next, checkpointRoot: root.toString('hex'), updatedAt: 42 },
    );
    // A second process that read the cursor before the advance loses.
    const stale = { ...next, nextIndex: 6 };
    assert.equal(await r.db.transaction((tx) => r.state.advanceCursor(tx, start, stale, 43)), false);
    assert.equal((await r.state.getCursor()).nextIndex, 5);
  });

  test(`${kind}: rules round-trip and every change bumps the version in its transaction`, async (t) => {
    const r = await open(t, await withDb(t, make));
    assert.equal(await r.rules.version(), 0);
    const doc = { id: 'b-rule', scope: [{ subject: 'x' }] };
    await r.db.transaction(async (tx) => {
      await r.rules.upsert(tx, 'b-rule', 'api', doc, 'd1', 100);
      await r.rules.upsert(tx, 'a-rule', 'file', { id: 'a-rule' }, 'd0', 100);
      await r.rules.bumpVersion(tx);
    });
    await r.db.transaction(async (tx) => {
      await r.rules.upsert(tx, 'b-rule', 'api', { ...doc, note: 'changed' }, 'd2', 200);
      assert.equal((await r.rules.get('b-rule', tx))?.digest, 'd2', 'the transaction sees its own write');
      await r.rules.bumpVersion(tx);
    });
    assert.equal(await r.rules.version(), 2);
    assert.deepEqual(
      (await r.rules.list()).map((x) => x.name),
      ['a-rule', 'b-rule'],
    );
    const b = await r.rules.get('b-rule');
    assert.deepEqual(b, {
      name: 'b-rule',
      source: 'api',
      document: { ...doc, note: 'changed' },
      digest: 'd2',
      createdAt: 100,
      updatedAt: 200,
    });
    // A failed transaction leaves neither the change nor the version bump.
    await assert.rejects(
      r.db.transaction(async (tx) => {
        await r.rules.delete(tx, 'a-rule');
        await r.rules.bumpVersion(tx);
        throw new Error('abort');
      }),
    );
    assert.equal(await r.rules.version(), 2);
    assert.ok(await r.rules.get('a-rule'));
    assert.equal(await r.db.transaction((tx) => r.rules.delete(tx, 'a-rule')), 1);
    assert.equal(await r.rules.get('a-rule'), undefined);
    assert.equal((await r.db.transaction((tx) => r.rules.list(tx))).length, 1);
  });

  test(`${kind}: identity index candidates over more keys than one INSERT carries`, async (t) => {
    const r = await open(t, await withDb(t, make));
    const keys: Array<[string, number]> = [];
    for (let i = 0; i < 5000; i++) keys.push([`k${i % 3}`, i]);
    keys.push(['k0', 0]); // a duplicate pair is ignored
    await r.db.transaction((tx) => r.index.insertKeys(tx, keys));
    const oracle = (want: string[], from: number, to: number): number[] =>
      [...new Set(keys.filter(([k, i]) => want.includes(k) && i >= from && i < to).map(([, i]) => i))].sort(
        (a, b) => a - b,
      );
    assert.deepEqual(await r.index.candidates(['k1'], 10, 40, 1000), oracle(['k1'], 10, 40));
    assert.deepEqual(
      await r.index.candidates(['k0', 'k2'], 100, 4900, 7),
      oracle(['k0', 'k2'], 100, 4900).slice(0, 7),
    );
    assert.equal(await r.index.countCandidates(['k0', 'k1'], 0, 5000), oracle(['k0', 'k1'], 0, 5000).length);
    assert.equal(await r.index.countCandidates(['nope'], 0, 5000), 0);
    assert.deepEqual(await r.index.candidates([], 0, 5000, 10), []);
  });

  test(`${kind}: expectations, webhooks and backfills round-trip`, async (t) => {
    const r = await open(t, await withDb(t, make));
    const e1 = { id: 'e1', runInvocationUri: 'https://ci/run/1', createdAt: 10 };
    const e2 = {
      id: 'e2',
      digest: 'sha256:' + 'ab'.repeat(32),
      ruleId: 'r',
      note: 'n',
      expiresAt: 50,
      createdAt: 20,
    };
    await r.db.transaction(async (tx) => {
      await r.expectations.insert(tx, e2);
      await r.expectations.insert(tx, e1);
    });
    const strip = (x: object): object =>
      Object.fromEntries(Object.entries(x).filter(([, v]) => v !== undefined));
    assert.deepEqual((await r.expectations.list()).map(strip), [e1, e2]);
    assert.deepEqual(
      (await r.expectations.list(51)).map((x) => x.id),
      ['e1'],
      'expired ones drop out',
    );
    assert.deepEqual(strip((await r.expectations.get('e2'))!), e2);
    assert.equal(await r.db.transaction((tx) => r.expectations.delete(tx, 'e2')), 1);
    assert.equal(await r.db.transaction((tx) => r.expectations.delete(tx, 'e2')), 0);

    const w = { ...webhook('named', ['monitor.lagging']), description: 'd' };
    await r.db.transaction((tx) => r.webhooks.insert(tx, w));
    assert.deepEqual(await r.webhooks.get(w.id), { ...w, disabledReason: undefined, disabledAt: undefined });
    assert.equal((await r.webhooks.get('named'))?.id, w.id, 'found by name');
    assert.equal(await r.db.transaction((tx) => r.webhooks.txNameTaken(tx, 'named')), true);
    assert.equal(await r.db.transaction((tx) => r.webhooks.txNameTaken(tx, 'other')), false);
    await r.db.transaction((tx) => r.webhooks.setEnabled(tx, w.id, false, 'gone', 77));
    const disabled = await r.webhooks.get(w.id);
    assert.deepEqual(
      [disabled?.enabled, disabled?.disabledReason, disabled?.disabledAt],
      [false, 'gone', 77],
    );
    await r.db.transaction((tx) => r.webhooks.setEnabled(tx, w.id, true, undefined, 78));
    assert.equal((await r.webhooks.get(w.id))?.disabledReason, undefined);
    assert.equal(await r.db.transaction((tx) => r.webhooks.delete(tx, w.id)), 1);
    assert.deepEqual(await r.webhooks.list(), []);

    const job = {
      id: 'bf1',
      ruleId: 'r',
      fromIndex: 0,
      toIndex: 100,
      indexedTo: 40,
      mode: 'index' as const,
      status: 'queued' as const,
      nextIndex: 0,
      candidates: 12,
      processed: 0,
      alerts: 0,
      createdAt: 5,
      updatedAt: 5,
    };
    await r.db.transaction(async (tx) => {
      await r.backfills.insert(tx, job);
      await r.backfills.insert(tx, { ...job, id: 'bf2', createdAt: 6, updatedAt: 6 });
    });
    assert.equal((await r.backfills.next())?.id, 'bf1', 'oldest unfinished first');
    const step = { status: 'running' as const, nextIndex: 50, processedDelta: 50, alertsDelta: 1, now: 9 };
    assert.equal(await r.db.transaction((tx) => r.backfills.update(tx, 'bf1', step, 0)), true);
    assert.equal(
      await r.db.transaction((tx) => r.backfills.update(tx, 'bf1', step, 0)),
      false,
      'chunk already recorded',
    );
    await r.db.transaction((tx) => r.backfills.addAlerts(tx, 'bf1', 2));
    const done = {
      status: 'done' as const,
      nextIndex: 100,
      processedDelta: 50,
      alertsDelta: 0,
      now: 11,
      finished: true,
    };
    assert.equal(await r.db.transaction((tx) => r.backfills.update(tx, 'bf1', done, 50)), true);
    const b = await r.backfills.get('bf1');
    assert.deepEqual(
      [b?.status, b?.nextIndex, b?.processed, b?.alerts, b?.candidates, b?.finishedAt],
      ['done', 100, 100, 3, 12, 11],
    );
    assert.equal((await r.backfills.next())?.id, 'bf2');
    assert.deepEqual(
      (await r.backfills.list()).map((x) => x.id),
      ['bf2', 'bf1'],
    );
  });
}
