import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { verifyAlertEvidence } from '../../src/modules/monitor/monitor-events';
import {
  ADMIN_TOKEN,
  GH,
  RELEASE_RULE_YAML,
  api,
  bootMonitor,
  certSigner,
  emailCert,
  ghCert,
  keySigner,
  postgresDb,
  prepared,
  sqliteDb,
  submit,
  waitFor,
  type TestDb,
} from './harness';

const rule = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'monitor.vellum/v1',
  kind: 'IdentityRule',
  metadata: { name },
  spec,
});

async function scenarioAdmin(db: TestDb): Promise<void> {
  const rulesPath = join(db.dataDir, 'rules.yaml');
  writeFileSync(rulesPath, RELEASE_RULE_YAML);
  const m = await bootMonitor(db, { monitorEnv: { MONITOR_RULES_PATH: rulesPath } });
  try {
    // --- auth
    let r = await api(m, 'GET', '/v1/monitor/rules', undefined, null);
    assert.equal(r.status, 401);
    assert.equal(r.json.code, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
    r = await fetch(`${m.url}/v1/monitor/rules`, { headers: { authorization: `Basic ${ADMIN_TOKEN}` } }).then(
      async (x) => ({
        status: x.status,
        json: await x.json(),
        headers: x.headers,
        text: '',
      }),
    );
    assert.equal(r.status, 401);
    r = await api(m, 'GET', '/v1/monitor/rules', undefined, ADMIN_TOKEN + 'x');
    assert.equal(r.status, 403);
    assert.deepEqual(Object.keys(r.json).sort(), ['code', 'message']);
    r = await api(m, 'GET', '/v1/monitor/rules', undefined, ADMIN_TOKEN.slice(0, -1));
    assert.equal(r.status, 403);

    // --- rules
    r = await api(m, 'GET', '/v1/monitor/rules');
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.json.rules.map((x: any) => [x.name, x.source]),
      [
        ['oncall-email', 'file'],
        ['release-signer', 'file'],
      ],
    );
    r = await api(
      m,
      'POST',
      '/v1/monitor/rules',
      rule('bad', { scope: [{ subjectt: 'x', issuerRegExp: '(a' }] }),
    );
    assert.equal(r.status, 400);
    assert.equal(r.json.code, 400);
    const paths = r.json.errors.map((e: any) => e.path).sort();
    assert.deepEqual(paths, ['spec.scope[0].issuerRegExp', 'spec.scope[0].subjectt']);
    assert.match(
      r.json.errors.find((e: any) => e.path.endsWith('subjectt')).message,
      /did you mean 'subject'/,
    );
    r = await api(m, 'POST', '/v1/monitor/rules', [rule('a', { scope: [{ subject: 'x' }] })]);
    assert.equal(r.status, 400);
    r = await api(m, 'POST', '/v1/monitor/rules', rule('release-signer', { scope: [{ subject: 'x' }] }));
    assert.equal(r.status, 409, 'name taken by a file rule');
    r = await api(m, 'POST', '/v1/monitor/rules/validate', rule('ok', { scope: [{ subjectRegExp: 'a.b' }] }));
    assert.equal(r.status, 200);
    assert.equal(r.json.valid, true);
    assert.match(r.json.warnings[0].message, /unescaped '\.'/);
    r = await api(m, 'DELETE', '/v1/monitor/rules/oncall-email');
    assert.equal(r.status, 409, 'file rules are removed in the file');

    // --- entries, evaluated
    const i0 = await submit(m, prepared(certSigner(ghCert({ file: 'ci.yml', ref: 'refs/heads/main' }))));
    const i1 = await submit(m, prepared(certSigner(emailCert('user@domain.com'))));
    const i2 = await submit(m, prepared(certSigner(emailCert('alice@example.org'))));
    const i3 = await submit(m, prepared(certSigner(emailCert('bob@example.org'))));
    await m.evaluator.runUntilIdle();

    r = await api(m, 'GET', '/v1/monitor/alerts');
    assert.equal(r.status, 200);
    assert.equal(r.json.total, 2);
    assert.equal(r.json.alerts[0].evidence, undefined, 'lists carry no evidence');
    r = await api(m, 'GET', '/v1/monitor/alerts?rule=release-signer');
    assert.equal(r.json.total, 1);
    const unexpected = r.json.alerts[0];
    assert.equal(unexpected.type, 'identity.unexpected');
    assert.equal(unexpected.logIndex, i0);
    r = await api(m, 'GET', '/v1/monitor/alerts?type=identity.matched');
    assert.equal(r.json.total, 1);
    assert.equal(r.json.alerts[0].logIndex, i1);
    r = await api(
      m,
      'GET',
      `/v1/monitor/alerts?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
    );
    assert.equal(r.json.total, 0);
    r = await api(m, 'GET', '/v1/monitor/alerts?status=bogus');
    assert.equal(r.status, 400);

    r = await api(m, 'GET', `/v1/monitor/alerts/${unexpected.id}`);
    assert.equal(r.status, 200);
    assert.equal(r.json.rule, 'release-signer');
    assert.equal(r.json.event.type, 'identity.unexpected');
    assert.equal(r.json.identity[0].issuer, GH);
    verifyAlertEvidence(r.json.evidence, m.publicKey);
    r = await api(m, 'GET', `/v1/monitor/alerts/${unexpected.id}/evidence`);
    verifyAlertEvidence(r.json, m.publicKey);
    assert.equal((await api(m, 'GET', '/v1/monitor/alerts/nope')).status, 404);

    r = await api(m, 'POST', `/v1/monitor/alerts/${unexpected.id}/ack`, { actor: 'alice' });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'acknowledged');
    assert.equal(r.json.acknowledgedBy, 'alice');
    r = await api(m, 'POST', `/v1/monitor/alerts/${unexpected.id}/resolve`, { resolution: 'maybe' });
    assert.equal(r.status, 400);
    r = await api(m, 'POST', `/v1/monitor/alerts/${unexpected.id}/resolve`, {
      resolution: 'compromise',
      reason: 'stolen token',
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'resolved');
    assert.equal(r.json.resolution, 'compromise');
    assert.equal(r.json.resolutionReason, 'stolen token');
    r = await api(m, 'POST', `/v1/monitor/alerts/${unexpected.id}/resolve`, { resolution: 'expected' });
    assert.equal(r.status, 409);
    r = await api(m, 'GET', '/v1/monitor/alerts?status=resolved');
    assert.equal(r.json.total, 1);
    r = await api(m, 'GET', `/v1/monitor/alerts/${unexpected.id}`);
    assert.deepEqual(
      r.json.audit.map((a: any) => a.action),
      ['acknowledge', 'resolve'],
    );

    // --- expectations (consulted by evaluate)
    r = await api(m, 'POST', '/v1/monitor/expectations', { note: 'nothing to match' });
    assert.equal(r.status, 400);
    const runUri = 'https://github.com/org/repo/actions/runs/4242/attempts/1';
    r = await api(m, 'POST', '/v1/monitor/expectations', {
      runInvocationUri: runUri,
      rule: 'release-signer',
      ttlSeconds: 3600,
    });
    assert.equal(r.status, 201);
    assert.ok(r.json.expiresAt);
    const i4 = await submit(
      m,
      prepared(certSigner(ghCert({ file: 'hotfix.yml', ref: 'refs/heads/main', runUri }))),
    );
    await m.evaluator.runUntilIdle();
    r = await api(m, 'GET', '/v1/monitor/alerts?rule=release-signer');
    const exp = r.json.alerts.find((a: any) => a.logIndex === i4);
    assert.equal(exp.expected, true);
    assert.equal(exp.status, 'recorded');
    assert.equal((await api(m, 'GET', '/v1/monitor/expectations')).json.expectations.length, 1);

    // --- a new rule over past entries: backfill through the identity index (exact subject)
    r = await api(m, 'POST', '/v1/monitor/rules', rule('alice', { scope: [{ email: 'alice@example.org' }] }));
    assert.equal(r.status, 201);
    assert.equal(r.json.source, 'api');
    r = await api(m, 'GET', '/v1/monitor/rules/alice');
    assert.equal(r.json.rule.spec.scope[0].email.equals, 'alice@example.org');
    r = await api(m, 'POST', '/v1/monitor/backfills', { rule: 'alice' });
    assert.equal(r.status, 202);
    assert.equal(r.json.mode, 'index');
    assert.equal(r.json.candidates, 1, 'only the one entry with that subject is read');
    const jobId = r.json.id;
    await m.backfills.runUntilIdle();
    r = await api(m, 'GET', `/v1/monitor/backfills/${jobId}`);
    assert.equal(r.json.status, 'done');
    assert.equal(r.json.progress, 1);
    assert.equal(r.json.alerts, 1);
    r = await api(m, 'GET', '/v1/monitor/alerts?rule=alice');
    assert.deepEqual(
      r.json.alerts.map((a: any) => [a.logIndex, a.source]),
      [[i2, 'backfill']],
    );
    // A regex scope cannot use the index: scan; spec.backfill starts the job by itself.
    r = await api(
      m,
      'POST',
      '/v1/monitor/rules',
      rule('example-org', { scope: [{ emailRegExp: '.*@example\\.org' }], backfill: { fromIndex: 0 } }),
    );
    assert.equal(r.status, 201);
    assert.equal(r.json.backfill.mode, 'scan');
    await m.backfills.runUntilIdle();
    r = await api(m, 'GET', '/v1/monitor/alerts?rule=example-org');
    assert.deepEqual(r.json.alerts.map((a: any) => a.logIndex).sort(), [i2, i3]);
    // Backfill and live evaluation agree on ids: evaluating again adds nothing.
    const before = (await api(m, 'GET', '/v1/monitor/alerts')).json.total;
    await m.db.transaction((tx) => tx.execute('DELETE FROM monitor_cursor'));
    await m.evaluator.runUntilIdle();
    assert.equal((await api(m, 'GET', '/v1/monitor/alerts')).json.total, before);
    assert.equal((await api(m, 'POST', '/v1/monitor/backfills', { rule: 'nope' })).status, 404);

    r = await api(m, 'DELETE', '/v1/monitor/rules/alice');
    assert.equal(r.status, 204);
    assert.equal((await api(m, 'GET', '/v1/monitor/rules/alice')).status, 404);
    assert.ok(!(await m.rules.current()).some((x) => x.id === 'alice'));

    r = await api(m, 'GET', '/v1/monitor/status');
    assert.equal(r.status, 200);
    assert.equal(r.json.cursor.lagEntries, 0);
    assert.equal(r.json.rules.file.rules, 2);
  } finally {
    await m.close();
    await db.cleanup();
  }
}

test('sqlite: admin API: bearer auth, rules CRUD with reasons, alerts triage, expectations, backfills', async () =>
  scenarioAdmin(await sqliteDb()));
test('postgres: admin API: bearer auth, rules CRUD with reasons, alerts triage, expectations, backfills', async () =>
  scenarioAdmin(await postgresDb()));

test('rules file: reloaded on change without restart; a bad file keeps the previous rules and reports why', async () => {
  const db = await sqliteDb();
  const rulesPath = join(db.dataDir, 'rules.yaml');
  writeFileSync(rulesPath, RELEASE_RULE_YAML);
  const m = await bootMonitor(db, {
    monitorEnv: { MONITOR_RULES_PATH: rulesPath, MONITOR_RULES_RELOAD_MS: '100' },
  });
  try {
    const names = async () => (await m.rules.current()).map((r) => r.id).sort();
    assert.deepEqual(await names(), ['oncall-email', 'release-signer']);
    writeFileSync(
      rulesPath,
      RELEASE_RULE_YAML +
        `---\napiVersion: monitor.vellum/v1\nkind: IdentityRule\nmetadata: {name: third}\nspec:\n  scope: [{subject: c@d.e}]\n`,
    );
    await waitFor('reload with a third rule', async () => (await names()).includes('third'));
    // Broken file: rejected as a whole, previous three stay, reason visible.
    writeFileSync(
      rulesPath,
      `apiVersion: monitor.vellum/v1\nkind: IdentityRule\nmetadata: {name: only}\nspec:\n  scope: [{subjct: x}]\n`,
    );
    const status = await waitFor('reload error in status', async () => {
      const s = await api(m, 'GET', '/v1/monitor/status');
      return s.json.rules.file?.lastError ? s.json.rules.file : undefined;
    });
    assert.match(status.lastError.errors[0].path, /subjct/);
    assert.deepEqual(await names(), ['oncall-email', 'release-signer', 'third']);
    assert.ok(m.logLines.some((l) => /rules file refused/.test(l)));
    // Fixed file: applied; the removed rules are gone.
    writeFileSync(
      rulesPath,
      `apiVersion: monitor.vellum/v1\nkind: IdentityRule\nmetadata: {name: only}\nspec:\n  scope: [{subject: x@y.z}]\n`,
    );
    await waitFor('fixed file applied', async () => JSON.stringify(await names()) === '["only"]');
    const s = await api(m, 'GET', '/v1/monitor/status');
    assert.equal(s.json.rules.file.lastError, undefined);
    // The new set is what evaluation uses.
    await submit(m, prepared(certSigner(emailCert('x@y.z'))));
    await submit(m, prepared(keySigner()));
    await m.evaluator.runUntilIdle();
    const a = await api(m, 'GET', '/v1/monitor/alerts');
    assert.deepEqual(
      a.json.alerts.map((x: any) => x.rule),
      ['only'],
    );
  } finally {
    await m.close();
    await db.cleanup();
  }
});

test('admin API disabled without ADMIN_TOKEN: 403 for everyone', async () => {
  const db = await sqliteDb();
  const m = await bootMonitor(db, { monitorEnv: { ADMIN_TOKEN: '' } });
  try {
    const r = await api(m, 'GET', '/v1/monitor/alerts', undefined, 'anything-at-all-long-enough');
    assert.equal(r.status, 403);
    assert.match(r.json.message, /ADMIN_TOKEN/);
  } finally {
    await m.close();
    await db.cleanup();
  }
});
