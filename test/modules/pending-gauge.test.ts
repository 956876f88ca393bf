import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingGauge } from '../../src/modules/queue/pending-gauge';

/** A depth read whose answer the test gives later, to interleave adds with the read. */
function deferredRead(): { read: () => Promise<number>; answer: (d: number) => void } {
  let answer!: (d: number) => void;
  const p = new Promise<number>((r) => (answer = r));
  return { read: () => p, answer };
}

test('pending gauge: an add still unconfirmed when a read returns stays counted', async () => {
  const g = new PendingGauge();
  g.addSent();
  g.addSent();
  assert.equal(g.pending, 2, 'adds count from the moment they are sent');
  // Redis answered the read before either add landed: depth 0.
  await g.refresh(async () => 0);
  assert.equal(g.pending, 2, 'the read did not see them, so the gauge still does');
  g.addSettled(true);
  g.addSettled(true);
  assert.equal(g.pending, 2, 'confirmed after the read was sent: still counted');
  await g.refresh(async () => 2);
  assert.equal(g.pending, 2, 'the next read holds them; counted once');
  assert.equal(g.queueDepth, 2);
});

test('pending gauge: adds confirmed while a read is out are kept; a failed add is dropped', async () => {
  const g = new PendingGauge();
  const d = deferredRead();
  const refreshing = g.refresh(d.read);
  g.addSent();
  g.addSent();
  g.addSettled(true);
  g.addSettled(false);
  assert.equal(g.pending, 1, 'the failed add is not in Redis');
  // A second refresh while one is out does nothing (its read is never called).
  let called = false;
  await g.refresh(async () => {
    called = true;
    return 99;
  });
  assert.equal(called, false);
  d.answer(5);
  await refreshing;
  assert.equal(g.pending, 6, 'depth 5 plus the add confirmed during the read (maybe in the 5: erring high)');
  await g.refresh(async () => 6);
  assert.equal(g.pending, 6);
});

test('pending gauge: a burst of adds between reads never counts fewer than were sent', async () => {
  const g = new PendingGauge();
  let inRedis = 0;
  let sent = 0;
  const unconfirmed: number[] = [];
  for (let round = 0; round < 50; round++) {
    const d = deferredRead();
    const refreshing = g.refresh(d.read);
    const snapshot = inRedis;
    for (let i = 0; i < 7; i++) {
      g.addSent();
      sent++;
      unconfirmed.push(1);
      if (i % 2 === 0) {
        unconfirmed.pop();
        inRedis++;
        g.addSettled(true);
      }
      assert.ok(g.pending >= sent, `round ${round}: ${g.pending} < ${sent} sent`);
    }
    d.answer(snapshot);
    await refreshing;
    assert.ok(g.pending >= sent, `after read ${round}: ${g.pending} < ${sent} sent`);
    while (unconfirmed.pop() !== undefined) {
      inRedis++;
      g.addSettled(true);
    }
  }
  await g.refresh(async () => inRedis);
  assert.equal(g.pending, sent, 'a quiet read settles it exactly');
});
