import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, VellumError } from '../../src/core/errors';
import { toHttpError } from '../../src/modules/http/http-error';

test('503s carry the Retry-After their producer suggests, 1 s otherwise', () => {
  const withHint = toHttpError(new VellumError('PUSHBACK', 'queue full', { retryAfterSeconds: 7 }), 1024);
  assert.equal(withHint.status, 503);
  assert.equal(withHint.headers?.['retry-after'], '7');
  const outage = toHttpError(new VellumError('UNAVAILABLE', 'redis down', { retryAfterSeconds: 2.2 }), 1024);
  assert.equal(outage.headers?.['retry-after'], '3');
  const plain = toHttpError(new VellumError('PUSHBACK', 'queue full'), 1024);
  assert.equal(plain.headers?.['retry-after'], '1');
});

// Codes that describe the log's own data or availability failing, never the client's input.
const SERVER_SIDE = new Set([
  'PUSHBACK',
  'UNAVAILABLE',
  'INVALID_PROOF',
  'INVALID_NOTE',
  'INVALID_KEY',
  'INVALID_TILE',
  'INVALID_SET',
  'INCONSISTENT_LOG',
  'INTERNAL',
]);

test('every core error code maps to a JSON {code, message} with a 4xx/5xx status', () => {
  for (const code of ERROR_CODES) {
    const r = toHttpError(new VellumError(code, `boom ${code}`, { entryId: 'ab'.repeat(40) }), 1024);
    assert.ok(r.status >= 400 && r.status < 600, `${code} -> ${r.status}`);
    assert.equal(typeof r.body?.code, 'number');
    assert.equal(typeof r.body?.message, 'string');
    if (SERVER_SIDE.has(code))
      assert.ok(r.status >= 500, `${code} is the log's own failure (got ${r.status})`);
    else assert.ok(r.status < 500, `client-caused code ${code} must not be a 5xx (got ${r.status})`);
  }
});
