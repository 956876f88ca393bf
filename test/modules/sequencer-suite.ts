/**
 * The write-path scenarios (sequencer-scenarios.ts) as one suite of tests, registered once per
 * database by sequencer.test.ts (SQLite) and sequencer-postgres.test.ts (PostgreSQL).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  scenarioConcurrentSubmissions,
  scenarioFailedBatch,
  scenarioKill9,
  scenarioLeaseAtBoot,
  scenarioPushback,
  scenarioRefusesInconsistentTiles,
  scenarioRestart,
  scenarioStolenLease,
} from './sequencer-scenarios';
import { scenarioPipelinedDedup, scenarioPipelinedFailure } from './sequencer-pipeline-scenarios';
import { type TestDb, withTestDb } from './storage-harness';

export function sequencerSuite(kind: TestDb['kind'], open: () => Promise<TestDb>): void {
  const withDb = (fn: (db: TestDb) => Promise<void>) => withTestDb(open, fn);
  test(`${kind}: 3000 concurrent submissions are sequenced 0..n-1 with verifying proofs, SETs, checkpoints; duplicates get the first entry`, () =>
    withDb(async (db) => {
      const { perSecond } = await scenarioConcurrentSubmissions(db, 3000);
      console.log(`# ${kind} write path: ${perSecond.toFixed(0)} entries/s (3000 concurrent submissions)`);
      assert.ok(perSecond > 0);
    }));
  const scenarios: Array<[string, (db: TestDb) => Promise<void>]> = [
    ['restart on the same database continues the log consistently', scenarioRestart],
    ['a batch failing before COMMIT leaves database and tree unchanged', scenarioFailedBatch],
    [
      'a batch prepared while the one ahead commits: duplicates of it get its index, new entries follow it',
      scenarioPipelinedDedup,
    ],
    [
      'the batch ahead failing at COMMIT fails the one prepared behind it unwritten; the log continues',
      scenarioPipelinedFailure,
    ],
    ['a stolen lease token makes the commit fail; re-acquired after expiry', scenarioStolenLease],
    ['PUSHBACK beyond MAX_PENDING; integratedTime from the injected clock', scenarioPushback],
    ['refuses to start when stored tiles disagree with the checkpoint', scenarioRefusesInconsistentTiles],
    ['boot waits for a live lease holder, takes over at once from a dead one', scenarioLeaseAtBoot],
    [
      'kill -9 mid-stream loses no acknowledged entry',
      (db) => scenarioKill9(db, join(__dirname, 'sequencer-crash-child.js')),
    ],
  ];
  for (const [title, scenario] of scenarios) test(`${kind}: ${title}`, () => withDb(scenario));
}
