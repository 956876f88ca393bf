import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/modules/config/config';
import { configRows, rewriteConfigTables, TABLE_MARKERS } from '../../src/modules/config/config-docs';
import { envSchema, parseVariable } from '../../src/modules/config/config-schema';
import { loadMonitorConfig } from '../../src/modules/monitor/monitor.config';
import { repoRoot } from '../support/paths';

/** The cells of the Markdown table between two markers (header and separator rows dropped). */
function tableCells(readme: string, start: string, end: string): string[][] {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  assert.ok(from >= 0 && to > from, `README.md has ${start} ... ${end}`);
  return readme
    .slice(from + start.length, to)
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .slice(2)
    .map((l) =>
      l
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim()),
    );
}

describe('README configuration tables', () => {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');

  for (const [section, { start, end }] of Object.entries(TABLE_MARKERS)) {
    test(`the ${section} table lists what the schema documents (run npm run docs:config)`, () => {
      assert.deepEqual(tableCells(readme, start, end), configRows(section as 'server' | 'monitor'));
    });
  }

  test('README.md is byte-for-byte what npm run docs:config writes', () => {
    assert.equal(rewriteConfigTables(readme), readme);
  });

  test('every schema variable appears in exactly one table', () => {
    const listed = [...configRows('server'), ...configRows('monitor')].map((r) => r[0]);
    assert.deepEqual(
      listed.sort(),
      Object.keys(envSchema.shape)
        .map((n) => `\`${n}\``)
        .sort(),
    );
  });
});

describe('monitor variables in the one schema', () => {
  const bad: [Record<string, string>, string][] = [
    [{ MONITOR_RULES_RELOAD_MS: '10' }, 'MONITOR_RULES_RELOAD_MS'],
    [{ WEBHOOK_POLL_MS: 'often' }, 'WEBHOOK_POLL_MS'],
    [{ WEBHOOK_ALLOW_PRIVATE: 'maybe' }, 'WEBHOOK_ALLOW_PRIVATE'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ ADMIN_TOKEN: 'sixteen chars or more' }, 'ADMIN_TOKEN'],
    [{ MONITOR_ENABLED: 'sometimes' }, 'MONITOR_ENABLED'],
  ];
  for (const [env, variable] of bad) {
    test(`${JSON.stringify(env)} stops loadConfig and loadMonitorConfig naming ${variable}`, () => {
      const names = (e: unknown) =>
        e instanceof ConfigError && e.variable === variable && e.message.startsWith(`${variable}: `);
      assert.throws(() => loadConfig(env, '/tmp'), names);
      assert.throws(() => loadMonitorConfig(env, 'all', '/tmp'), names);
    });
  }

  test('values are parsed, defaults filled in, the result frozen', () => {
    const m = loadMonitorConfig(
      { MONITOR_RULES_RELOAD_MS: '250', WEBHOOK_POLL_MS: '40', MONITOR_RULES_PATH: 'rules.yaml' },
      'api',
      '/srv',
    );
    assert.equal(m.rulesReloadMs, 250);
    assert.equal(m.webhookPollMs, 40);
    assert.equal(m.rulesPath, '/srv/rules.yaml');
    assert.equal(m.webhookTimeoutMs, 20_000);
    assert.equal(m.workersEnabled, false);
    assert.ok(Object.isFrozen(m));
    assert.equal(loadMonitorConfig({ MONITOR_ENABLED: 'no' }, 'monitor').workersEnabled, false);
    assert.equal(loadMonitorConfig({}, 'monitor').workersEnabled, true);
  });
});

describe('LOG_FORMAT and VELLUM_WEBHOOK_SECRET', () => {
  test('LOG_FORMAT is text by default, json on request, anything else a ConfigError', () => {
    assert.equal(loadConfig({}, '/tmp').logFormat, 'text');
    assert.equal(loadConfig({ LOG_FORMAT: 'json' }, '/tmp').logFormat, 'json');
    assert.throws(
      () => loadConfig({ LOG_FORMAT: 'pino' }, '/tmp'),
      (e: unknown) => e instanceof ConfigError && e.variable === 'LOG_FORMAT',
    );
  });

  test('a malformed VELLUM_WEBHOOK_SECRET is refused without echoing it', () => {
    const secret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    assert.doesNotThrow(() => loadConfig({ VELLUM_WEBHOOK_SECRET: secret }, '/tmp'));
    // `vellum monitor` reads the one variable through the same schema entry.
    assert.equal(parseVariable('VELLUM_WEBHOOK_SECRET', { VELLUM_WEBHOOK_SECRET: secret }), secret);
    assert.equal(parseVariable('VELLUM_WEBHOOK_SECRET', {}), undefined);
    for (const bad of ['not-a-secret-value', 'whsec_%%%%', 'whsec_' + Buffer.alloc(4).toString('base64')]) {
      const refused = (e: unknown) =>
        e instanceof ConfigError && e.variable === 'VELLUM_WEBHOOK_SECRET' && !e.message.includes(bad);
      assert.throws(() => loadConfig({ VELLUM_WEBHOOK_SECRET: bad }, '/tmp'), refused);
      assert.throws(() => parseVariable('VELLUM_WEBHOOK_SECRET', { VELLUM_WEBHOOK_SECRET: bad }), refused);
    }
  });
});
