/**
 * The per-entry time budget of the verification pool: an entry that runs past
 * VERIFY_TASK_TIMEOUT_MS is answered 400, its worker thread is replaced, and the entries that
 * shared its batch are still prepared.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isVellumError } from '../../src/core/errors';
import { loadConfig } from '../../src/modules/config/config';
import { VerifyPool } from '../../src/modules/entries/verify-pool';
import { slowDsse } from '../support/chain-bombs';
import { hashedrekord, newP256Key } from './fixtures';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

test('VERIFY_TASK_TIMEOUT_MS: documented default, bounds checked at boot', () => {
  assert.equal(loadConfig({}, '/tmp').verifyTaskTimeoutMs, 2000);
  assert.equal(loadConfig({ VERIFY_TASK_TIMEOUT_MS: '750' }, '/tmp').verifyTaskTimeoutMs, 750);
  assert.throws(() => loadConfig({ VERIFY_TASK_TIMEOUT_MS: '5' }, '/tmp'), /VERIFY_TASK_TIMEOUT_MS/);
});

test('an entry past the budget gets 400, its worker is replaced, its batch-mates are prepared', async (t) => {
  // A fresh Buffer per call: the pool transfers (detaches) the bytes it is given.
  const slowEntry = slowDsse();
  const key = newP256Key();
  // Within the default budget the slow entry is a valid one (~200 ms on one core).
  const roomy = new VerifyPool(loadConfig({ VERIFY_WORKERS: '1' }, '/tmp'));
  try {
    assert.equal((await roomy.prepare(json(slowEntry))).kind, 'dsse');
    assert.equal(await roomy.killedTasks(), 0);
  } finally {
    await roomy.onModuleDestroy();
  }

  const pool = new VerifyPool(loadConfig({ VERIFY_WORKERS: '1', VERIFY_TASK_TIMEOUT_MS: '25' }, '/tmp'));
  try {
    const honest = Array.from({ length: 10 }, () => hashedrekord(key));
    // One event-loop turn: the single worker takes all eleven as one batch, the slow one first.
    const started = Date.now();
    const slowAnswer = pool.prepare(json(slowEntry)).then(
      () => assert.fail('the slow entry must be stopped'),
      (e: unknown) => ({ e, ms: Date.now() - started }),
    );
    const honestAnswers = honest.map((f) => pool.prepare(json(f.proposed)));
    const { e, ms } = await slowAnswer;
    assert.ok(isVellumError(e, 'INVALID_ENTRY'), String(e));
    assert.match(e.message, /took longer than the 25 ms allowed per entry/);
    // From submission, so the new worker's start-up is counted too.
    t.diagnostic(`slow entry stopped ${ms} ms after submission (budget 25 ms)`);
    assert.ok(ms < 2000, `stopped after ${ms} ms`);
    const prepared = await Promise.all(honestAnswers);
    prepared.forEach((p, i) => assert.ok(p.body.equals(honest[i]!.canonical)));
    assert.equal(await pool.killedTasks(), 1);
    assert.equal(pool.size, 1, 'the worker was replaced');
    assert.equal(pool.inflight, 0);
    // The replacement keeps working.
    const again = hashedrekord(key);
    assert.ok((await pool.prepare(json(again.proposed))).body.equals(again.canonical));
  } finally {
    await pool.onModuleDestroy();
  }
});
