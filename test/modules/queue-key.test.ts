import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/modules/config/config';
import { loadQueueKey } from '../../src/modules/queue/job-auth';

const PG = 'postgres://127.0.0.1/x';
const REDIS = 'redis://127.0.0.1:6379';

function configError(env: Record<string, string>, variable: string, pattern: RegExp): void {
  assert.throws(
    () => loadConfig(env, '/tmp'),
    (e) => e instanceof ConfigError && e.variable === variable && pattern.test(e.message),
    JSON.stringify(env),
  );
}

test('queue key: split roles with Redis must be given one; its length and source are checked', () => {
  for (const role of ['api', 'sequencer']) {
    configError({ ROLE: role, DATABASE_URL: PG, REDIS_URL: REDIS }, 'QUEUE_HMAC_KEY', /QUEUE_HMAC_KEY_PATH/);
  }
  configError(
    { ROLE: 'api', DATABASE_URL: PG, REDIS_URL: REDIS, QUEUE_HMAC_KEY: 'short' },
    'QUEUE_HMAC_KEY',
    /at least 32/,
  );
  configError(
    { REDIS_URL: REDIS, QUEUE_HMAC_KEY: 'a'.repeat(32), QUEUE_HMAC_KEY_PATH: '/k' },
    'QUEUE_HMAC_KEY',
    /not both/,
  );
  const env = loadConfig(
    { ROLE: 'sequencer', DATABASE_URL: PG, REDIS_URL: REDIS, QUEUE_HMAC_KEY: ` ${'s'.repeat(40)}\n` },
    '/tmp',
  );
  assert.deepEqual(loadQueueKey(env), Buffer.from('s'.repeat(40)), 'surrounding whitespace is not key');
  const file = loadConfig(
    { ROLE: 'api', DATABASE_URL: PG, REDIS_URL: REDIS, QUEUE_HMAC_KEY_PATH: 'k' },
    '/tmp',
  );
  assert.deepEqual(file.queueHmacKey, { source: 'file', path: '/tmp/k', generate: false });
  assert.equal(loadConfig({}, '/tmp').queueHmacKey, undefined, 'no Redis: no queue, no key');
  assert.equal(
    loadConfig({ ROLE: 'monitor', DATABASE_URL: PG, REDIS_URL: REDIS }, '/tmp').queueHmacKey,
    undefined,
    'the monitor role queues no entries',
  );
});

test('queue key: ROLE=all with Redis generates one into DATA_DIR (mode 0600) once and keeps it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vellum-queue-key-'));
  try {
    const cfg = loadConfig({ REDIS_URL: REDIS, DATA_DIR: dir }, '/tmp');
    assert.deepEqual(cfg.queueHmacKey, { source: 'file', path: join(dir, 'queue-hmac.key'), generate: true });
    const a = loadQueueKey(cfg);
    assert.equal(a.length, 64);
    assert.equal(statSync(join(dir, 'queue-hmac.key')).mode & 0o777, 0o600);
    assert.deepEqual(loadQueueKey(cfg), a, 'the second load reads the same key');
    assert.equal(readFileSync(join(dir, 'queue-hmac.key'), 'utf8').trim(), a.toString());

    const explicit = loadConfig({ REDIS_URL: REDIS, QUEUE_HMAC_KEY_PATH: join(dir, 'missing') }, '/tmp');
    assert.throws(() => loadQueueKey(explicit), /QUEUE_HMAC_KEY_PATH: cannot read/, 'nothing generated');
    writeFileSync(join(dir, 'short'), 'abc\n');
    const short = loadConfig({ REDIS_URL: REDIS, QUEUE_HMAC_KEY_PATH: join(dir, 'short') }, '/tmp');
    assert.throws(() => loadQueueKey(short), /at least 32/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
