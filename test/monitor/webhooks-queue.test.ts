/**
 * Webhook delivery through BullMQ (REDIS_URL set), against the real Redis on 127.0.0.1:6379:
 * deliveries run inside BullMQ jobs, retries are delayed jobs, a job lost from Redis is
 * re-enqueued by the outbox sweep, racing workers and the table poll never send an event twice,
 * and while Redis is unreachable the outbox table is delivered directly. Each test uses its own
 * key prefix and deletes it afterwards.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { Queue } from 'bullmq';
import { DELIVERY_QUEUE, deliveryJobId } from '../../src/modules/monitor/delivery-queue';
import { DeliveryService } from '../../src/modules/monitor/delivery.service';
import { loadMonitorConfig } from '../../src/modules/monitor/monitor.config';
import { WebhookRepository } from '../../src/modules/monitor/repositories';
import { VellumDatabase } from '../../src/modules/storage/database';
import {
  api,
  bootMonitor,
  certSigner,
  emailCert,
  postgresDb,
  prepared,
  sqliteDb,
  submit,
  waitFor,
  type MonitorApp,
  type TestDb,
} from './harness';
import { deleteRedisKeys } from '../../src/bench/server-process';
import { needServices } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { Receiver } from './receiver';

const REDIS = 'redis://127.0.0.1:6379';

const needRedis = (t: TestContext): Promise<boolean> => needServices(t, { redis: true });
const deleteKeys = (prefix: string): Promise<void> => deleteRedisKeys(REDIS, prefix);

const newPrefix = (): string => `vt-wh-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

function env(prefix: string, url = REDIS): Record<string, string> {
  return {
    WEBHOOK_ALLOW_PRIVATE: 'true',
    MONITOR_POLL_MS: '20',
    WEBHOOK_POLL_MS: '50',
    WEBHOOK_SWEEP_MS: '150',
    REDIS_URL: url,
    REDIS_PREFIX: prefix,
  };
}

const MATCH_RULE = {
  apiVersion: 'monitor.vellum/v1',
  kind: 'IdentityRule',
  metadata: { name: 'watch-example' },
  spec: { scope: [{ emailRegExp: '.*@example\\.com' }] },
};

async function hook(m: MonitorApp, rcv: Receiver, path: string): Promise<string> {
  const r = await api(m, 'POST', '/v1/monitor/webhooks', {
    url: `${rcv.url}${path}`,
    name: path.slice(1),
    eventTypes: ['identity.matched'],
  });
  assert.equal(r.status, 201, r.text);
  rcv.secrets.set(path, r.json.secret);
  return r.json.id as string;
}

async function attemptsOf(m: MonitorApp, endpointId: string, eventId: string): Promise<number[]> {
  const rows = await m.deliveries.attemptsFor(endpointId, eventId);
  return rows.map((r) => Number(r.status));
}

const alertEntry = (who: string) => prepared(certSigner(emailCert(`${who}@example.com`)));

interface Rig {
  readonly db: TestDb;
  readonly prefix: string;
  readonly rcv: Receiver;
  /** The test's own view of the delivery queue. */
  readonly queue: Queue;
  m: MonitorApp;
}

async function rig(
  t: TestContext,
  mkDb: () => Promise<TestDb>,
  schedule: number[],
  redisUrl = REDIS,
  /** Runs after the app is closed. */
  finally_: () => Promise<void> = async () => undefined,
): Promise<Rig | undefined> {
  if (!(await needRedis(t))) return undefined;
  const db = await mkDb();
  const prefix = newPrefix();
  const rcv = new Receiver();
  await rcv.start();
  const m = await bootMonitor(db, {
    monitorEnv: env(prefix, redisUrl),
    options: { retryScheduleMs: schedule },
    autoStart: true,
  });
  const queue = new Queue(DELIVERY_QUEUE, { connection: { url: REDIS }, prefix });
  t.after(async () => {
    await m.close();
    await queue.close();
    await rcv.stop();
    await db.cleanup();
    await deleteKeys(prefix);
    await finally_();
  });
  assert.equal(m.delivery.usesQueue, true);
  assert.equal((await api(m, 'POST', '/v1/monitor/rules', MATCH_RULE)).status, 201);
  return { db, prefix, rcv, queue, m };
}

test('webhooks via BullMQ: every attempt runs inside its job; a failing receiver is retried through delayed jobs until it accepts', async (t) => {
  const r = await rig(t, sqliteDb, [0, 150, 150, 150]);
  if (r === undefined) return;
  const { rcv, queue, m } = r;
  const ok = await hook(m, rcv, '/ok');
  const flaky = await hook(m, rcv, '/flaky');
  // Both events fail twice there, then go through on their third attempt.
  rcv.script.set('/flaky', [500, 500, 500, 500]);
  const endpointOf: Record<string, string> = { '/ok': ok, '/flaky': flaky };
  // While the receiver holds the request open, the job for this attempt must be active in BullMQ.
  const seen: string[] = [];
  rcv.before = async (path, id) => {
    const attempt = rcv.deliveries.filter((d) => d.path === path && d.id === id).length;
    seen.push(
      `${path} ${attempt} ${await queue.getJobState(deliveryJobId(endpointOf[path]!, id, attempt - 1))}`,
    );
  };

  await submit(m, alertEntry('a'));
  await submit(m, alertEntry('b'));
  // The receiver records a delivery when the request arrives and `before` adds to `seen` only
  // after its own Redis round trip, so wait for both.
  await waitFor('both events accepted by /ok and /flaky, every attempt observed', async () =>
    rcv.unique('/ok').length === 2 && rcv.unique('/flaky').length === 2 && seen.length >= 8
      ? true
      : undefined,
  );
  assert.equal(seen.length, 8, seen.join('\n'));
  assert.deepEqual(
    seen.filter((s) => !s.endsWith(' active')),
    [],
    'each attempt ran inside its BullMQ job',
  );
  assert.deepEqual(seen.map((s) => s.split(' ').slice(0, 2).join(' ')).sort(), [
    '/flaky 1',
    '/flaky 1',
    '/flaky 2',
    '/flaky 2',
    '/flaky 3',
    '/flaky 3',
    '/ok 1',
    '/ok 1',
  ]);
  assert.ok(rcv.deliveries.every((d) => d.valid));
  // The receiver answers before the attempt is recorded: wait for the records.
  const stats = await waitFor('attempts recorded', async () => {
    const st = m.delivery.stats();
    return st.attempts.queue + st.attempts.database >= 8 ? st : undefined;
  });
  assert.deepEqual(stats.attempts, { queue: 8, database: 0 });
  assert.equal(stats.recovered, 0);

  // The outbox records the attempts exactly as the table path does.
  const flakyEvent = rcv.deliveries.find((d) => d.path === '/flaky' && d.status === 500)!.id;
  assert.deepEqual(await attemptsOf(m, flaky, flakyEvent), [500, 500, 200]);
  const rows = await m.deliveries.forEvent(flakyEvent);
  assert.deepEqual(rows.map((x) => [x.endpointId === flaky ? 'flaky' : 'ok', x.status, x.attempts]).sort(), [
    ['flaky', 'delivered', 3],
    ['ok', 'delivered', 1],
  ]);
  // Finished jobs leave nothing behind in Redis.
  await waitFor('queue empty', async () => {
    const c = await queue.getJobCounts('waiting', 'delayed', 'active', 'completed', 'failed');
    return Object.values(c).every((n) => n === 0) ? true : undefined;
  });
});

test('webhooks via BullMQ: a retry job deleted from Redis, then every key of the queue, is re-enqueued by the sweep and delivered exactly once', async (t) => {
  const r = await rig(t, sqliteDb, [0, 700, 700]);
  if (r === undefined) return;
  const { rcv, queue, m, prefix } = r;
  const lost = await hook(m, rcv, '/lost');

  const oneEvent = async (who: string, lose: (jobId: string) => Promise<void>): Promise<string> => {
    rcv.script.set('/lost', [500]);
    await submit(m, alertEntry(who));
    const id = await waitFor('first attempt failed', async () => {
      const d = rcv.deliveries.filter((x) => x.path === '/lost' && x.status === 500).at(-1);
      if (d === undefined) return undefined;
      const rows = await m.deliveries.forEvent(d.id);
      return rows[0]?.attempts === 1 ? d.id : undefined;
    });
    const jobId = deliveryJobId(lost, id, 1);
    assert.equal(
      await waitFor('retry job', async () => (await queue.getJobState(jobId)) === 'delayed'),
      true,
    );
    await lose(jobId);
    assert.equal(await queue.getJobState(jobId), 'unknown');
    await waitFor('delivered after the loss', async () =>
      rcv.deliveries.some((x) => x.id === id && x.status === 200) ? true : undefined,
    );
    return id;
  };

  const a = await oneEvent('lost-one', async (jobId) => {
    await queue.remove(jobId);
  });
  assert.ok(m.delivery.stats().recovered >= 1);
  // Redis loses everything (FLUSHALL, failover to an empty replica): same outcome.
  const b = await oneEvent('lost-all', async () => deleteKeys(prefix));
  assert.ok(m.delivery.stats().recovered >= 2);

  await new Promise((res) => setTimeout(res, 400));
  for (const id of [a, b]) {
    const got = rcv.deliveries.filter((d) => d.id === id);
    assert.deepEqual(
      got.map((d) => d.status),
      [500, 200],
      `event ${id}: one failure, then exactly one delivery`,
    );
    assert.deepEqual(await attemptsOf(m, lost, id), [500, 200]);
  }
  assert.equal(rcv.unique('/lost').length, 2);
  assert.equal(m.delivery.stats().attempts.database, 0, 'Redis was up: every attempt went through a job');
});

test('webhooks via BullMQ on PostgreSQL: two workers and the table poll racing never send an event twice', async (t) => {
  const r = await rig(t, postgresDb, [0, 100, 100, 100]);
  if (r === undefined) return;
  const { rcv, m, prefix } = r;
  const cfg = loadMonitorConfig(env(prefix), 'all', r.db.dataDir);
  // A second monitor replica's delivery service: its own BullMQ worker and sweep.
  const other = new DeliveryService(
    m.deliveries,
    m.app.get(WebhookRepository),
    m.app.get(VellumDatabase),
    cfg,
    {
      retryScheduleMs: [0, 100, 100, 100],
    },
  );
  other.start();
  t.after(() => other.stop());
  await hook(m, rcv, '/a');
  await hook(m, rcv, '/b');
  rcv.script.set('/b', [503, 503, 503]);
  rcv.before = () => new Promise((res) => setTimeout(res, 15));
  // And a third path racing both: the table poll, as during a Redis outage.
  let polling = true;
  const poller = (async () => {
    while (polling) {
      await other.tick();
      await new Promise((res) => setTimeout(res, 5));
    }
  })();
  const n = 12;
  for (let i = 0; i < n; i++) await submit(m, alertEntry(`race-${i}`));
  await waitFor(
    'every event accepted by both receivers',
    async () => (rcv.unique('/a').length === n && rcv.unique('/b').length === n ? true : undefined),
    30_000,
  );
  polling = false;
  await poller;
  const attempts = (): number => {
    const a = m.delivery.stats().attempts;
    const b = other.stats().attempts;
    return a.queue + a.database + b.queue + b.database;
  };
  await waitFor('attempts recorded', async () => (attempts() >= 2 * n + 3 ? true : undefined));
  await new Promise((res) => setTimeout(res, 300));
  const accepted = rcv.deliveries.filter((d) => d.status === 200);
  assert.equal(accepted.length, 2 * n, 'each (endpoint, event) accepted exactly once');
  assert.equal(rcv.deliveries.length, 2 * n + 3, 'no attempt was made twice');
  const s1 = m.delivery.stats();
  const s2 = other.stats();
  assert.equal(attempts(), 2 * n + 3);
  assert.ok(s1.attempts.queue + s2.attempts.queue > 0, 'the BullMQ workers took part');
  const stats = (await api(m, 'GET', '/v1/monitor/status')).json.outbox;
  assert.deepEqual(stats, { pending: 0, delivered: 2 * n, failed: 0 });
});

/** A TCP proxy to the real Redis that can be cut (Redis "goes away") and restored on the same port. */
async function redisProxy(): Promise<{ url: string; cut(): Promise<void>; restore(): Promise<void> }> {
  const p = await TcpProxy.to(6379);
  return { url: `redis://127.0.0.1:${p.port}`, cut: () => p.cut(), restore: () => p.restore() };
}

test('webhooks via BullMQ: while Redis is unreachable the outbox table is delivered directly; afterwards jobs again', async (t) => {
  if (!(await needRedis(t))) return;
  const proxy = await redisProxy();
  const r = await rig(t, sqliteDb, [0, 150, 150], proxy.url, () => proxy.cut());
  if (r === undefined) return;
  const { rcv, m } = r;
  await hook(m, rcv, '/h');
  await submit(m, alertEntry('before'));
  await waitFor('first via the queue', async () =>
    m.delivery.stats().attempts.queue === 1 ? true : undefined,
  );
  assert.equal(rcv.unique('/h').length, 1);

  await proxy.cut();
  rcv.script.set('/h', [500]);
  await submit(m, alertEntry('during'));
  await waitFor('delivered during the outage', async () =>
    rcv.unique('/h').length === 2 ? true : undefined,
  );
  const during = await waitFor('attempts recorded', async () => {
    const st = m.delivery.stats();
    return st.attempts.database >= 2 ? st : undefined;
  });
  assert.equal(during.attempts.queue, 1);
  assert.equal(during.attempts.database, 2, 'a failure and its retry, both from the table');

  await proxy.restore();
  await waitFor('Redis reachable again', async () => {
    await submit(m, alertEntry(`after-${randomBytes(2).toString('hex')}`));
    await new Promise((res) => setTimeout(res, 300));
    return m.delivery.stats().attempts.queue > 1 ? true : undefined;
  });
  await waitFor('all delivered', async () =>
    (await api(m, 'GET', '/v1/monitor/status')).json.outbox.pending === 0 ? true : undefined,
  );
  const ids = rcv.deliveries.filter((d) => d.status === 200).map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'nothing was delivered twice');
});
