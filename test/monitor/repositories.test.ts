/**
 * The monitor repositories against the real databases: a SQLite file and PostgreSQL (a fresh
 * database per run). Round-trips of every aggregate, the compare-and-set writes (cursor,
 * backfill progress, delivery claims) losing when they should, and alert filters and paging
 * checked against a filter applied to the inserted alerts in the test.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { Test, type TestingModule } from '@nestjs/testing';
import { ConfigModule } from '../../src/modules/config/config.module';
import {
  AlertRepository,
  BackfillRepository,
  DeliveryRepository,
  ExpectationRepository,
  IdentityIndexRepository,
  MONITOR_REPOSITORIES,
  MonitorStateRepository,
  RuleRepository,
  WebhookRepository,
  type AlertStatus,
  type NewAlert,
  type WebhookRecord,
} from '../../src/modules/monitor/repositories';
import { VellumDatabase } from '../../src/modules/storage/database';
import { StorageModule } from '../../src/modules/storage/storage.module';
import { CapturingLogger, postgresDb, sqliteDb, testConfig, type TestDb } from '../modules/storage-harness';

const DBS: ReadonlyArray<readonly [string, () => Promise<TestDb>]> = [
  ['sqlite', sqliteDb],
  ['postgres', postgresDb],
];

interface Repos {
  readonly db: VellumDatabase;
  readonly state: MonitorStateRepository;
  readonly rules: RuleRepository;
  readonly index: IdentityIndexRepository;
  readonly alerts: AlertRepository;
  readonly expectations: ExpectationRepository;
  readonly webhooks: WebhookRepository;
  readonly deliveries: DeliveryRepository;
  readonly backfills: BackfillRepository;
}

/** Storage plus the repositories, as one process would have them; closed after the test. */
async function open(t: TestContext, db: TestDb): Promise<Repos> {
  const app: TestingModule = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(testConfig(db)), StorageModule.forRoot()],
    providers: [...MONITOR_REPOSITORIES],
  })
    .setLogger(new CapturingLogger())
    .compile();
  await app.init();
  t.after(() => app.close());
  return {
    db: app.get(VellumDatabase),
    state: app.get(MonitorStateRepository),
    rules: app.get(RuleRepository),
    index: app.get(IdentityIndexRepository),
    alerts: app.get(AlertRepository),
    expectations: app.get(ExpectationRepository),
    webhooks: app.get(WebhookRepository),
    deliveries: app.get(DeliveryRepository),
    backfills: app.get(BackfillRepository),
  };
}

async function withDb(t: TestContext, make: () => Promise<TestDb>): Promise<TestDb> {
  const db = await make();
  t.after(() => db.cleanup());
  return db;
}

function webhook(name: string, eventTypes: string[], enabled = true): WebhookRecord {
  return {
    id: randomUUID(),
    name,
    url: `https://hooks.example/${name}`,
    eventTypes,
    secret: `whsec_${name}`,
    enabled,
    createdAt: 1000,
    updatedAt: 1000,
  };
}

function alert(over: Partial<NewAlert> & { id: string }): NewAlert {
  return {
    type: 'identity.unexpected',
    ruleId: 'r1',
    severity: 'high',
    action: 'alert',
    expected: false,
    summary: `alert ${over.id}`,
    identity: { subject: 'x' },
    reasons: [{ code: 'c' }],
    payload: Buffer.from(`{"id":"${over.id}"}`),
    source: 'live',
    ...over,
  };
}

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
      assert.equal((await r.rules.txGet(tx, 'b-rule'))?.digest, 'd2', 'the transaction sees its own write');
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
    assert.equal((await r.db.transaction((tx) => r.rules.txList(tx))).length, 1);
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
