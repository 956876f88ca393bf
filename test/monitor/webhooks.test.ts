import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  api,
  bootMonitor,
  certSigner,
  emailCert,
  prepared,
  sqliteDb,
  submit,
  waitFor,
  type MonitorApp,
} from './harness';
import { Receiver } from './receiver';

async function hook(m: MonitorApp, rcv: Receiver, path: string, name: string): Promise<string> {
  const r = await api(m, 'POST', '/v1/monitor/webhooks', {
    url: `${rcv.url}${path}`,
    name,
    eventTypes: ['identity.matched', 'identity.unexpected', 'log.tamper'],
  });
  assert.equal(r.status, 201, r.text);
  assert.match(r.json.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  rcv.secrets.set(path, r.json.secret);
  assert.deepEqual(r.json.eventTypes, ['identity.matched', 'identity.unexpected', 'log.inconsistent']);
  return r.json.id as string;
}

const MATCH_RULE = {
  apiVersion: 'monitor.vellum/v1',
  kind: 'IdentityRule',
  metadata: { name: 'watch-example' },
  spec: { scope: [{ emailRegExp: '.*@example\\.com' }] },
};

test('webhooks: signed Standard Webhooks deliveries, once per event id; retries; redirects not followed; 410 and persistent failure disable', async () => {
  const db = await sqliteDb();
  const rcv = new Receiver();
  await rcv.start();
  const schedule = [0, 30, 30, 30];
  let m = await bootMonitor(db, {
    monitorEnv: { WEBHOOK_ALLOW_PRIVATE: 'true', MONITOR_POLL_MS: '20', WEBHOOK_POLL_MS: '20' },
    options: { retryScheduleMs: schedule },
    autoStart: true,
  });
  try {
    assert.equal((await api(m, 'POST', '/v1/monitor/rules', MATCH_RULE)).status, 201);
    const ok = await hook(m, rcv, '/ok', 'ok');
    const flaky = await hook(m, rcv, '/flaky', 'flaky');
    const redirect = await hook(m, rcv, '/redirect', 'redirect');
    const gone = await hook(m, rcv, '/gone', 'gone');
    const broken = await hook(m, rcv, '/broken', 'broken');
    rcv.script.set('/flaky', [500, 500]);
    rcv.script.set('/redirect', new Array<number>(100).fill(302));
    rcv.script.set('/gone', new Array<number>(100).fill(410));
    rcv.script.set('/broken', new Array<number>(100).fill(500));
    const listed = await api(m, 'GET', '/v1/monitor/webhooks');
    assert.equal(listed.json.webhooks.length, 5);
    assert.ok(
      listed.json.webhooks.every((w: any) => w.secret === undefined),
      'secrets are shown only once',
    );

    const i0 = await submit(m, prepared(certSigner(emailCert('a@example.com'))));
    const i1 = await submit(m, prepared(certSigner(emailCert('b@example.com'))));
    await waitFor('both alerts delivered to /ok and /flaky', async () =>
      rcv.unique('/ok').length === 2 && rcv.unique('/flaky').length === 2 ? true : undefined,
    );
    const alerts = (await api(m, 'GET', '/v1/monitor/alerts')).json.alerts as Array<{
      id: string;
      logIndex: number;
    }>;
    assert.deepEqual(alerts.map((a) => a.logIndex).sort(), [i0, i1]);
    for (const path of ['/ok', '/flaky']) {
      for (const d of rcv.deliveries.filter((x) => x.path === path)) {
        assert.ok(d.valid, `signature on ${path} verifies`);
        const ev = JSON.parse(d.body);
        assert.equal(ev.type, 'identity.matched');
        assert.ok(
          alerts.some((a) => a.id === d.id),
          'webhook-id is the alert (event) id',
        );
        assert.equal(ev.data.rule.id, 'watch-example');
      }
    }
    assert.equal(
      rcv.deliveries.filter((d) => d.path === '/ok').length,
      2,
      'no duplicates to a healthy receiver',
    );
    // The flaky receiver got 2 failures then success for its first event: same id three times.
    const flakyIds = rcv.deliveries.filter((d) => d.path === '/flaky').map((d) => d.id);
    assert.equal(flakyIds.length, 4);
    assert.equal(new Set(flakyIds).size, 2);
    const fw = (await api(m, 'GET', `/v1/monitor/webhooks/${flaky}`)).json;
    assert.equal(fw.enabled, true);
    assert.equal(fw.deliveries.delivered, 2);
    assert.deepEqual(
      fw.attempts.map((a: any) => a.status).filter((s: number) => s === 500),
      [500, 500],
    );

    // 410: disabled at once. Always failing: disabled when the schedule runs out.
    await waitFor('gone and broken disabled', async () => {
      const g = (await api(m, 'GET', `/v1/monitor/webhooks/${gone}`)).json;
      const b = (await api(m, 'GET', `/v1/monitor/webhooks/${broken}`)).json;
      return !g.enabled && !b.enabled ? { g, b } : undefined;
    }).then(({ g, b }) => {
      assert.match(g.disabledReason, /410/);
      assert.match(b.disabledReason, /failed 4 times/);
    });
    // 410 is final: no event was tried twice there.
    const goneIds = rcv.deliveries.filter((d) => d.path === '/gone').map((d) => d.id);
    assert.ok(goneIds.length >= 1 && goneIds.length <= 2);
    assert.equal(new Set(goneIds).size, goneIds.length);
    // The broken endpoint: one try per schedule slot for the event that exhausted it, never more.
    const perId = new Map<string, number>();
    for (const d of rcv.deliveries.filter((x) => x.path === '/broken'))
      perId.set(d.id, (perId.get(d.id) ?? 0) + 1);
    assert.equal(Math.max(...perId.values()), 4);

    // Redirects: never followed (the /ok receiver saw nothing extra), endpoint eventually disabled.
    await waitFor('redirect endpoint disabled', async () =>
      (await api(m, 'GET', `/v1/monitor/webhooks/${redirect}`)).json.enabled === false ? true : undefined,
    );
    const rw = (await api(m, 'GET', `/v1/monitor/webhooks/${redirect}`)).json;
    assert.ok(rw.attempts.every((a: any) => a.outcome === 'failure-no-follow' && a.status === 302));
    assert.equal(rcv.deliveries.filter((d) => d.path === '/ok').length, 2);

    // Alert detail shows the delivery log.
    const detail = (await api(m, 'GET', `/v1/monitor/alerts/${alerts[0]!.id}`)).json;
    assert.equal(detail.deliveries.find((d: any) => d.endpoint === ok).status, 'delivered');

    // Restart: nothing is re-sent; a new event is sent once.
    await m.close();
    m = await bootMonitor(db, {
      monitorEnv: { WEBHOOK_ALLOW_PRIVATE: 'true', MONITOR_POLL_MS: '20', WEBHOOK_POLL_MS: '20' },
      options: { retryScheduleMs: schedule },
      autoStart: true,
    });
    const i2 = await submit(m, prepared(certSigner(emailCert('c@example.com'))));
    await waitFor('third delivery', async () => (rcv.unique('/ok').length === 3 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(rcv.deliveries.filter((d) => d.path === '/ok').length, 3);
    assert.equal(
      JSON.parse(rcv.deliveries.filter((d) => d.path === '/ok')[2]!.body).data.logIndex,
      String(i2),
    );
    // A disabled endpoint can be re-enabled; it then gets what it missed.
    const en = await api(m, 'POST', `/v1/monitor/webhooks/${gone}/enable`);
    assert.equal(en.json.enabled, true);
  } finally {
    await m.close();
    await rcv.stop();
    await db.cleanup();
  }
});

test('webhooks: private and loopback destinations refused unless WEBHOOK_ALLOW_PRIVATE; DNS answers are checked at every delivery', async () => {
  const db = await sqliteDb();
  const rcv = new Receiver();
  await rcv.start();
  let dns: string[] = ['93.184.216.34'];
  const m = await bootMonitor(db, {
    monitorEnv: { MONITOR_POLL_MS: '20', WEBHOOK_POLL_MS: '20' },
    options: { retryScheduleMs: [0, 30], resolveHost: async () => dns },
    autoStart: true,
  });
  try {
    for (const url of [
      rcv.url + '/ok',
      'http://localhost:9/x',
      'http://10.1.2.3/x',
      'http://[::1]:9/x',
      'http://169.254.169.254/latest',
      'ftp://example.com/x',
    ]) {
      const r = await api(m, 'POST', '/v1/monitor/webhooks', { url, eventTypes: ['identity.matched'] });
      assert.equal(r.status, 400, url);
      assert.match(r.json.message, /refused|http/);
    }
    const bad = await api(m, 'POST', '/v1/monitor/webhooks', {
      url: 'https://hooks.example.test/x',
      eventTypes: ['nope'],
    });
    assert.equal(bad.status, 400);
    // A name that resolves to a public address is accepted...
    const port = new URL(rcv.url).port;
    const r = await api(m, 'POST', '/v1/monitor/webhooks', {
      url: `http://hooks.example.test:${port}/rebind`,
      eventTypes: ['identity.matched'],
    });
    assert.equal(r.status, 201, r.text);
    // ...but if it later resolves to loopback, delivery is refused before connecting.
    dns = ['127.0.0.1'];
    assert.equal((await api(m, 'POST', '/v1/monitor/rules', MATCH_RULE)).status, 201);
    await submit(m, prepared(certSigner(emailCert('z@example.com'))));
    const w = await waitFor('refused attempts', async () => {
      const x = (await api(m, 'GET', `/v1/monitor/webhooks/${r.json.id}`)).json;
      return x.enabled === false ? x : undefined;
    });
    assert.ok(w.attempts.length >= 1);
    assert.ok(
      w.attempts.every((a: any) => a.outcome === 'refused' && /127\.0\.0\.1 is loopback/.test(a.error)),
    );
    assert.equal(rcv.deliveries.length, 0, 'the receiver was never contacted');
  } finally {
    await m.close();
    await rcv.stop();
    await db.cleanup();
  }
});
