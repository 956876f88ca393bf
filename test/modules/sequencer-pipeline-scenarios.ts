/**
 * The pipelined write path: a batch is prepared (deduplicated, indexed, signed) while the one
 * ahead of it commits. Run against SQLite and PostgreSQL by sequencer-suite.ts.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { VellumError } from '../../src/core/errors';
import type { SequencerOptions } from '../../src/modules/sequencer/sequencer.options';
import { checkAccepted, checkConsistency, rejection, start } from './sequencer-scenarios';
import { type TestDb, makeEntry } from './storage-harness';

/** Hooks a test can swap while the server runs. */
interface Hooks {
  beforeCommit?: SequencerOptions['beforeCommit'];
  onPrepared?: SequencerOptions['onPrepared'];
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await sleep(10);
  assert.ok(cond(), `timed out waiting for ${what}`);
}

function startHooked(db: TestDb, hooks: Hooks) {
  return start(
    db,
    { BATCH_MAX_AGE_MS: '5' },
    {
      beforeCommit: (b) => hooks.beforeCommit?.(b),
      onPrepared: (b) => hooks.onPrepared?.(b),
    },
  );
}

/** Batch B prepared while A commits: its duplicate of A's entry gets A's index, its new ones follow A. */
export async function scenarioPipelinedDedup(db: TestDb): Promise<void> {
  const hooks: Hooks = {};
  const ctx = await startHooked(db, hooks);
  try {
    const base = (await ctx.writer.submit(makeEntry())).entry.index + 1;
    const prepared: Array<{ firstIndex: number; count: number }> = [];
    hooks.onPrepared = (b) => prepared.push(b);
    const held = gate();
    let commits = 0;
    hooks.beforeCommit = async () => {
      if (commits++ === 0) await held.wait;
    };
    const a = makeEntry();
    const aDone = ctx.writer.submit(a);
    await until('batch A to reach its commit', () => commits === 1);
    const twin = { ...a };
    const fresh = [makeEntry(), makeEntry()];
    const bTwin = rejection(ctx.writer.submit(twin));
    const bDone = fresh.map((e) => ctx.writer.submit(e));
    await until('batch B to be prepared behind A', () => prepared.length === 2);
    assert.deepEqual(prepared[1], { firstIndex: base + 1, count: 2 }, 'B extends the tree with A in it');
    assert.equal(commits, 1, 'B has not reached its commit while A holds the write stage');
    held.open();
    const accepted = await aDone;
    assert.equal(accepted.entry.index, base);
    checkAccepted(ctx, a, accepted);
    const dup = await bTwin;
    assert.equal(dup.code, 'DUPLICATE_ENTRY');
    assert.equal((dup.details as { index: number }).index, base, 'the twin points at the entry in batch A');
    const later = await Promise.all(bDone);
    assert.deepEqual(
      later.map((x) => x.entry.index).sort((x, y) => x - y),
      [base + 1, base + 2],
    );
    later.forEach((x, i) => checkAccepted(ctx, fresh[i]!, x));
    await checkConsistency(ctx.reader, accepted.checkpoint, later[0]!.checkpoint);
  } finally {
    await ctx.booted.app.close();
  }
}

/** A fails at COMMIT with B prepared on top of it: both unanswered-as-accepted, nothing stored, log continues. */
export async function scenarioPipelinedFailure(db: TestDb): Promise<void> {
  const hooks: Hooks = {};
  const ctx = await startHooked(db, hooks);
  try {
    const before = (await ctx.writer.submit(makeEntry())).checkpoint;
    const prepared: number[] = [];
    hooks.onPrepared = (b) => prepared.push(b.firstIndex);
    const held = gate();
    let commits = 0;
    hooks.beforeCommit = async () => {
      if (commits++ === 0) {
        await held.wait;
        throw new Error('injected failure of batch A');
      }
    };
    const a = [makeEntry(), makeEntry()];
    const aDone = a.map((e) => rejection(ctx.writer.submit(e)));
    await until('batch A to reach its commit', () => commits === 1);
    const b = [makeEntry(), makeEntry(), makeEntry()];
    const bDone = b.map((e) => rejection(ctx.writer.submit(e)));
    await until('batch B to be prepared behind A', () => prepared.length === 2);
    held.open();
    const errors: VellumError[] = [...(await Promise.all(aDone)), ...(await Promise.all(bDone))];
    for (const e of errors) assert.equal(e.code, 'UNAVAILABLE', e.message);
    assert.equal(commits, 1, 'B was never written: it was prepared on a tree that did not commit');
    const same = await ctx.reader.latestCheckpoint();
    assert.equal(same.size, before.size);
    for (const e of [...a, ...b]) assert.equal(await ctx.reader.getByLeafHash(e.leafHash), null);

    hooks.beforeCommit = undefined;
    const all = [...a, ...b];
    const retried = await Promise.all(all.map((e) => ctx.writer.submit(e)));
    assert.deepEqual(
      retried.map((r) => r.entry.index).sort((x, y) => x - y),
      Array.from({ length: all.length }, (_, i) => before.size + i),
    );
    retried.forEach((r, i) => checkAccepted(ctx, all[i]!, r));
    await checkConsistency(ctx.reader, before, await ctx.reader.latestCheckpoint());
  } finally {
    await ctx.booted.app.close();
  }
}
