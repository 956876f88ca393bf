import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/modules/config/config';

/** loadConfig() is the gate every bad environment must stop at, naming the variable. */
describe('configuration validation', () => {
  const bad: [Record<string, string>, string][] = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ PORT: '65536' }, 'PORT'],
    [{ PORT: '80.5' }, 'PORT'],
    [{ BATCH_MAX_SIZE: '0' }, 'BATCH_MAX_SIZE'],
    [{ BATCH_MAX_AGE_MS: 'soon' }, 'BATCH_MAX_AGE_MS'],
    [{ MAX_ENTRY_BYTES: '10' }, 'MAX_ENTRY_BYTES'],
    [{ MAX_PENDING: '0' }, 'MAX_PENDING'],
    [{ VERIFY_WORKERS: '1000' }, 'VERIFY_WORKERS'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'sqlite:' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ ROLE: 'everything' }, 'ROLE'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ LOG_HOSTNAME: 'a b' }, 'LOG_HOSTNAME'],
    [{ LOG_HOSTNAME: 'a+b' }, 'LOG_HOSTNAME'],
  ];
  for (const [env, variable] of bad) {
    test(`${JSON.stringify(env)} -> ConfigError naming ${variable}`, () => {
      assert.throws(
        () => loadConfig(env, '/tmp'),
        (e: unknown) =>
          e instanceof ConfigError && e.variable === variable && e.message.startsWith(`${variable}: `),
      );
    });
  }

  test('defaults are valid, resolved and frozen', () => {
    const c = loadConfig({}, '/srv/vellum');
    assert.equal(c.port, 3000);
    assert.equal(c.dataDir, '/srv/vellum/data');
    assert.deepEqual(c.database, { type: 'sqlite', path: '/srv/vellum/data/vellum.db' });
    assert.equal(c.logHostname, '127.0.0.1:3000');
    assert.equal(c.role, 'all');
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { port: number }).port = 1;
    });
  });
});
