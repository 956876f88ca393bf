/**
 * Alerts and the webhook outbox on a SQLite file and on PostgreSQL: a new alert queues its
 * deliveries once, filters and paging agree with a filter applied in the test, triage stops
 * pending deliveries, and a delivery claim is exclusive across two processes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AlertStatus, NewAlert } from '../../src/modules/monitor/repositories';
import { DBS, alert, open, webhook, withDb } from './repositories-harness';

for (const [kind, make] of DBS) {
  test(`${kind}: alerts queue deliveries once, filter and page; triage and audit`, async (t) => {
    const r = await open(t, await withDb(t, make));
    const a = webhook('a', ['identity.unexpected']);
    const b = webhook('b', ['identity.unexpected', 'log.inconsistent']);
    const off = webhook('off', ['identity.unexpected'], false);
    await r.db.transaction(async (tx) => {
      for (const w of [a, b, off]) await r.webhooks.insert(tx, w);
    });
    const endpoints = await r.webhooks.list();
    const inserted: Array<{ a: NewAlert; at: number }> = [];
    await r.db.transaction(async (tx) => {
      for (let i = 0; i < 12; i++) {
        const x = alert({
          id: `al-${i}`,
          ruleId: i % 2 === 0 ? 'r-even' : 'r-odd',
          entryIndex: i,
          ...(i % 4 === 3 ? { action: 'record' as const } : {}),
          ...(i === 5 ? { notify: ['webhook:b'] } : {}),
        });
        assert.equal(await r.alerts.insert(tx, x, 1000 + Math.floor(i / 3), endpoints), true);
        inserted.push({ a: x, at: 1000 + Math.floor(i / 3) });
      }
      // The same id again (a replayed batch) inserts nothing and queues nothing.
      assert.equal(await r.alerts.insert(tx, alert({ id: 'al-0' }), 5000, endpoints), false);
    });
    assert.deepEqual(
      (await r.deliveries.forEvent('al-0')).map((d) => d.endpointId).sort(),
      [a.id, b.id].sort(),
      'enabled subscribed endpoints only',
    );
    assert.deepEqual(
      (await r.deliveries.forEvent('al-5')).map((d) => d.endpointId),
      [b.id],
    );
    assert.deepEqual(await r.deliveries.forEvent('al-3'), [], 'a recorded alert is not delivered');
    const got = await r.alerts.get('al-3');
    assert.equal(got?.status, 'recorded');
    assert.equal(got?.payload.toString(), '{"id":"al-3"}');
    assert.deepEqual(got?.identity, { subject: 'x' });

    const statusOf = (x: NewAlert): AlertStatus => (x.action === 'alert' ? 'open' : 'recorded');
    const expected = (f: { status?: AlertStatus; rule?: string; sinceMs?: number }): string[] =>
      inserted
        .filter(
          ({ a: x, at }) =>
            (f.status === undefined || statusOf(x) === f.status) &&
            (f.rule === undefined || x.ruleId === f.rule) &&
            (f.sinceMs === undefined || at >= f.sinceMs),
        )
        .sort((p, q) => q.at - p.at || (q.a.entryIndex ?? 0) - (p.a.entryIndex ?? 0))
        .map(({ a: x }) => x.id);
    for (const f of [
      {},
      { status: 'open' as const },
      { rule: 'r-odd' },
      { sinceMs: 1002 },
      { rule: 'r-even', status: 'recorded' as const },
    ]) {
      const all = expected(f);
      const pages: string[] = [];
      let total = -1;
      for (let offset = 0; offset < all.length + 5; offset += 5) {
        const page = await r.alerts.list({ ...f, limit: 5, offset });
        total = page.total;
        pages.push(...page.alerts.map((x) => x.id));
      }
      assert.equal(total, all.length, JSON.stringify(f));
      assert.deepEqual(pages, all, JSON.stringify(f));
    }
    assert.equal((await r.alerts.list({ type: 'log.inconsistent', limit: 10, offset: 0 })).total, 0);

    await r.db.transaction(async (tx) => {
      assert.equal(await r.alerts.txStatus(tx, 'al-0'), 'open');
      assert.equal(await r.alerts.txStatus(tx, 'missing'), undefined);
      await r.alerts.markAcknowledged(tx, 'al-0', 'alice', 2000);
      assert.equal(await r.deliveries.failPending(tx, 'al-0', 'acknowledged'), 2);
      await r.alerts.audit(tx, 'al-0', 'acknowledge', 'alice', { from: 'open' }, 2000);
    });
    await r.db.transaction(async (tx) => {
      await r.alerts.markResolved(tx, 'al-0', 'false_positive', undefined, 3000);
      await r.alerts.audit(tx, 'al-0', 'resolve', undefined, undefined, 3000);
    });
    const triaged = await r.alerts.get('al-0');
    assert.equal(triaged?.status, 'resolved');
    assert.equal(triaged?.acknowledgedBy, 'alice');
    assert.equal(triaged?.resolution, 'false_positive');
    assert.equal(triaged?.resolutionNote, undefined);
    assert.deepEqual(await r.alerts.auditLog('al-0'), [
      { action: 'acknowledge', actor: 'alice', detail: { from: 'open' }, at: 2000 },
      { action: 'resolve', actor: undefined, detail: undefined, at: 3000 },
    ]);
    assert.deepEqual(
      (await r.deliveries.forEvent('al-0')).map((d) => [d.status, d.lastError]),
      [
        ['failed', 'acknowledged'],
        ['failed', 'acknowledged'],
      ],
    );
  });

  test(`${kind}: a delivery claim is exclusive across two processes; attempts and finish`, async (t) => {
    const db = await withDb(t, make);
    const p1 = await open(t, db);
    // A second process on the same database: its own connections (and its own transaction queue).
    const p2 = await open(t, db);
    const w = webhook('w', ['identity.unexpected']);
    await p1.db.transaction(async (tx) => {
      await p1.webhooks.insert(tx, w);
      await p1.alerts.insert(tx, alert({ id: 'ev1' }), 100, [w]);
    });
    const [row] = await p1.deliveries.due(100, 10);
    assert.ok(row);
    assert.equal(row.endpoint.secret, w.secret);
    assert.deepEqual(await p1.deliveries.due(99, 10), [], 'not due yet');

    // On PostgreSQL both processes race at once. Two SQLite writers in one thread would block
    // each other on the file lock, so there one process races itself and the other claims after.
    const racers = kind === 'postgres' ? [p1, p2] : [p1];
    const claims = await Promise.all(
      Array.from({ length: 16 }, (_, i) => racers[i % racers.length]!.deliveries.claim(row, 100, 1000)),
    );
    assert.equal(claims.filter(Boolean).length, 1, 'exactly one worker holds the lease');
    assert.deepEqual(await p2.deliveries.due(500, 10), [], 'a leased row is not due');
    assert.equal(await p2.deliveries.claim(row, 1099, 1000), false, 'still leased');
    assert.equal(await p2.deliveries.claim(row, 1101, 1000), true, 'an expired lease can be taken over');

    await p2.db.transaction(async (tx) => {
      await p2.deliveries.recordAttempt(tx, row, {
        at: 1101,
        status: 503,
        outcome: 'retry',
        durationMs: 12.4,
      });
      // Recording the same attempt again (a retried transaction) keeps the first.
      await p2.deliveries.recordAttempt(tx, row, { at: 1102, status: 500, outcome: 'retry', durationMs: 1 });
      await p2.deliveries.finish(tx, row, {
        status: 'pending',
        nextAttemptAt: 2000,
        lastStatus: 503,
        lastError: 'HTTP 503',
      });
    });
    assert.equal(
      await p1.deliveries.claim(row, 2001, 1000),
      false,
      'a claim with a stale attempt count loses',
    );
    const again = await p1.deliveries.get(w.id, 'ev1');
    assert.deepEqual(
      [again?.attempts, again?.status, again?.lockedUntil, again?.lastStatus, again?.nextAttemptAt],
      [1, 'pending', undefined, 503, 2000],
    );
    assert.equal(await p1.deliveries.claim(again!, 2001, 1000), true);
    await p1.db.transaction(async (tx) => {
      await p1.deliveries.recordAttempt(tx, again!, { at: 2001, status: 200, outcome: 'ok', durationMs: 3 });
      await p1.deliveries.finish(tx, again!, {
        status: 'delivered',
        nextAttemptAt: 2001,
        lastStatus: 200,
        deliveredAt: 2001,
      });
    });
    const attempts = await p2.deliveries.attemptsFor(w.id, 'ev1');
    assert.deepEqual(
      attempts.map((a) => [Number(a.attempt), Number(a.status), String(a.outcome), Number(a.duration_ms)]),
      [
        [1, 503, 'retry', 12],
        [2, 200, 'ok', 3],
      ],
    );
    assert.equal((await p2.deliveries.attemptsFor(w.id, undefined, 1)).length, 1);
    assert.deepEqual(await p2.deliveries.stats(), { pending: 0, delivered: 1, failed: 0 });
    assert.deepEqual(await p2.deliveries.stats(w.id), { pending: 0, delivered: 1, failed: 0 });

    // A disabled endpoint's rows wait; deleting the endpoint's outbox rows empties its stats.
    await p1.db.transaction(async (tx) => {
      await p1.alerts.insert(tx, alert({ id: 'ev2' }), 3000, [w]);
      await p1.webhooks.setEnabled(tx, w.id, false, 'test', 3000);
    });
    assert.deepEqual(await p1.deliveries.due(4000, 10), []);
    assert.equal(await p1.db.transaction((tx) => p1.deliveries.deleteForEndpoint(tx, w.id)), 2);
    assert.deepEqual(await p1.deliveries.stats(w.id), { pending: 0, delivered: 0, failed: 0 });
  });
}
