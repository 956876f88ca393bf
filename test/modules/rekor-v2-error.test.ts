import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VellumError } from '../../src/core/errors';
import { toHttpError } from '../../src/modules/http/http-error';
import { toRekorV2Error } from '../../src/modules/http/rekor-v2-error';

const LIMIT = 4 * 1024 * 1024;
const v2 = (e: unknown) => toRekorV2Error(toHttpError(e, LIMIT), e);

test('Rekor v2 error answers: grpc-gateway body, HTTP status kept, gRPC code from it', () => {
  const bad = v2(new VellumError('INVALID_ENTRY', 'digest length (48) does not match'));
  assert.deepEqual(bad, {
    status: 400,
    body: { code: 3, message: 'digest length (48) does not match', details: [] },
    headers: {},
  });
  assert.equal(v2(new VellumError('INVALID_SIGNATURE', 'x')).body?.code, 3);

  const dup = v2(new VellumError('DUPLICATE_ENTRY', 'exists', { entryId: 'ab'.repeat(40), index: 41 }));
  assert.equal(dup.status, 409);
  assert.equal(dup.body?.code, 6);
  assert.equal(dup.headers?.['x-log-index'], '41');
  assert.equal(dup.headers?.location, `/api/v1/log/entries/${'ab'.repeat(40)}`);
  // An index that is not a safe non-negative integer never reaches a header.
  for (const index of [undefined, -1, 1.5, '7', Number.MAX_SAFE_INTEGER + 2]) {
    const d = v2(new VellumError('DUPLICATE_ENTRY', 'exists', { entryId: 'x', index }));
    assert.equal(d.headers?.['x-log-index'], undefined, String(index));
  }

  const push = v2(new VellumError('PUSHBACK', 'retry later', { retryAfterSeconds: 3 }));
  assert.deepEqual([push.status, push.body?.code, push.headers?.['retry-after']], [503, 14, '3']);

  // Internal failures keep the generic text and stay marked for logging.
  const internal = v2(new VellumError('INTERNAL', 'secret detail'));
  assert.equal(internal.status, 500);
  assert.equal(internal.body?.code, 13);
  assert.doesNotMatch(internal.body?.message ?? '', /secret/);
  assert.equal(internal.internal, true);

  // Fastify's body limit (before any handler).
  const big = v2({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'too large' });
  assert.deepEqual([big.status, big.body?.code], [413, 8]);
  assert.match(big.body?.message ?? '', /Limit set to 4194304/);
});
