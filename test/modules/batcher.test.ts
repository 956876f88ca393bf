import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Batcher, type BatchStages } from '../../src/modules/sequencer/batcher';
import { InProcessQueue, type QueueTicket } from '../../src/modules/write-path/entry-queue';
import type { AcceptedEntry, PreparedEntry } from '../../src/modules/log/log.types';

/** Stages whose prepare and commit finish only when the test says so. */
class ManualStages implements BatchStages<QueueTicket[]> {
  readonly prepared: QueueTicket[][] = [];
  readonly committed: QueueTicket[][] = [];
  private readonly prepareGates: Array<() => void> = [];
  private readonly commitGates: Array<() => void> = [];
  constructor(private readonly holdPrepare = false) {}

  prepare(batch: QueueTicket[]): Promise<QueueTicket[]> {
    this.prepared.push(batch);
    if (!this.holdPrepare) return Promise.resolve(batch);
    return new Promise((r) => this.prepareGates.push(() => r(batch)));
  }

  commit(batch: QueueTicket[]): Promise<void> {
    this.committed.push(batch);
    return new Promise((r) =>
      this.commitGates.push(() => {
        for (const t of batch) t.resolve({} as AcceptedEntry);
        r();
      }),
    );
  }

  finishCommit(): void {
    this.commitGates.shift()!();
  }

  finishPrepare(): void {
    this.prepareGates.shift()!();
  }
}

const entry = (n: number): PreparedEntry => ({ leafHash: Buffer.alloc(32, n) }) as PreparedEntry;
const turn = () => sleep(5);

function setup(maxSize: number, maxAgeMs: number, holdPrepare = false) {
  const queue = new InProcessQueue(() => performance.now());
  const stages = new ManualStages(holdPrepare);
  const batcher = new Batcher(queue, stages, { maxSize, maxAgeMs, now: () => performance.now() });
  const submit = (n: number) => queue.enqueue(entry(n));
  return { queue, stages, batcher, submit };
}

describe('Batcher (group commit, two stages)', () => {
  it('an idle log cuts the first entry at once, whatever the max age', async () => {
    const { stages, submit } = setup(100, 60_000);
    const p = submit(1);
    assert.equal(stages.prepared.length, 1, 'cut in the same turn as the enqueue');
    await turn();
    assert.equal(stages.committed.length, 1);
    stages.finishCommit();
    await p;
  });

  it('entries arriving during a commit are cut together the moment it finishes', async () => {
    const { stages, batcher, submit } = setup(100, 60_000);
    const first = submit(1);
    await turn();
    const later = [2, 3, 4, 5].map(submit);
    await turn();
    assert.equal(
      stages.prepared.length,
      1,
      'nothing is cut while the commit runs and nothing is full or old',
    );
    assert.equal(batcher.inFlightEntries, 1);
    stages.finishCommit();
    await first;
    await turn();
    assert.equal(stages.prepared.length, 2);
    assert.deepEqual(
      stages.prepared[1]!.map((t) => t.entry.leafHash[0]),
      [2, 3, 4, 5],
    );
    stages.finishCommit();
    await Promise.all(later);
    assert.equal(batcher.inFlightEntries, 0);
  });

  it('a full batch is prepared while the one ahead commits, and commits only after it', async () => {
    const { stages, batcher, submit } = setup(3, 60_000);
    const a = submit(1);
    await turn();
    const b = [2, 3, 4].map(submit);
    await turn();
    assert.equal(stages.prepared.length, 2, 'cut at maxSize although a commit is running');
    assert.equal(stages.committed.length, 1, 'but not committed before the batch ahead');
    // A third batch waits: only one batch may be prepared ahead.
    const c = [5, 6, 7].map(submit);
    await turn();
    assert.equal(stages.prepared.length, 2);
    assert.equal(batcher.inFlightEntries, 4);
    stages.finishCommit();
    await a;
    await turn();
    assert.equal(stages.committed.length, 2);
    assert.equal(stages.prepared.length, 3, 'the next batch is cut once the prepared one moved on');
    stages.finishCommit();
    await Promise.all(b);
    await turn();
    stages.finishCommit();
    await Promise.all(c);
    assert.deepEqual(
      stages.committed.map((x) => x.map((t) => t.entry.leafHash[0])),
      [[1], [2, 3, 4], [5, 6, 7]],
    );
  });

  it('while a commit runs, max age still bounds the wait to be cut', async () => {
    const { stages, submit } = setup(100, 30);
    const a = submit(1);
    await turn();
    const b = submit(2);
    await turn();
    assert.equal(stages.prepared.length, 1);
    await sleep(60);
    assert.equal(stages.prepared.length, 2, 'cut by age while the commit ahead is still running');
    stages.finishCommit();
    await a;
    await turn();
    stages.finishCommit();
    await b;
  });

  it('a slow prepare holds back cutting; drain and stop wait for every stage', async () => {
    const { stages, batcher, submit } = setup(2, 60_000, true);
    const all = [1, 2, 3, 4, 5].map(submit);
    await turn();
    assert.equal(stages.prepared.length, 1, 'one batch in the prepare stage at a time');
    const drained = batcher.drain();
    stages.finishPrepare();
    await turn();
    assert.equal(stages.prepared.length, 2);
    stages.finishPrepare();
    stages.finishCommit();
    await turn();
    stages.finishCommit();
    await turn();
    stages.finishPrepare();
    await turn();
    stages.finishCommit();
    await drained;
    await Promise.all(all);
    await batcher.stop();
    assert.equal(batcher.inFlightEntries, 0);
    assert.equal(stages.committed.flat().length, 5);
  });
});
