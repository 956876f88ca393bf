/**
 * The HTTP limits as read from the environment: documented defaults, each variable carried into
 * config.httpLimits, and a headers timeout longer than the request timeout refused at boot.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/modules/config/config';

test('HTTP limits: defaults, overrides, and REQUEST_TIMEOUT_MS at least HEADERS_TIMEOUT_MS', () => {
  assert.deepEqual(loadConfig({}, '/tmp').httpLimits, {
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    bodyIdleTimeoutMs: 10_000,
    keepAliveTimeoutMs: 65_000,
    maxConnections: 900,
    rateLimitMax: 0,
    rateLimitWindowMs: 60_000,
  });
  const set = loadConfig(
    {
      HEADERS_TIMEOUT_MS: '2000',
      REQUEST_TIMEOUT_MS: '2000',
      BODY_IDLE_TIMEOUT_MS: '3000',
      KEEP_ALIVE_TIMEOUT_MS: '5000',
      MAX_CONNECTIONS: '10000',
      RATE_LIMIT_MAX: '100',
      RATE_LIMIT_WINDOW_MS: '1000',
    },
    '/tmp',
  ).httpLimits;
  assert.deepEqual(
    [set.headersTimeoutMs, set.requestTimeoutMs, set.bodyIdleTimeoutMs, set.keepAliveTimeoutMs],
    [2000, 2000, 3000, 5000],
  );
  assert.deepEqual([set.maxConnections, set.rateLimitMax, set.rateLimitWindowMs], [10000, 100, 1000]);
  assert.throws(
    () => loadConfig({ HEADERS_TIMEOUT_MS: '20000', REQUEST_TIMEOUT_MS: '10000' }, '/tmp'),
    (e) =>
      e instanceof ConfigError && e.variable === 'REQUEST_TIMEOUT_MS' && /HEADERS_TIMEOUT_MS/.test(e.message),
  );
  for (const [name, value] of [
    ['MAX_CONNECTIONS', '0'],
    ['HEADERS_TIMEOUT_MS', '50'],
    ['RATE_LIMIT_WINDOW_MS', '10'],
    ['BODY_IDLE_TIMEOUT_MS', 'ten'],
  ] as const)
    assert.throws(
      () => loadConfig({ [name]: value }, '/tmp'),
      (e) => e instanceof ConfigError && e.variable === name,
      name,
    );
});
