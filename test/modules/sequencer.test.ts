import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
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
import { sqliteDb, type TestDb } from './storage-harness';

async function withDb(fn: (db: TestDb) => Promise<void>): Promise<void> {
  const db = await sqliteDb();
  try {
    await fn(db);
  } finally {
    await db.cleanup();
  }
}

test('sqlite: 3000 concurrent submissions are sequenced 0..n-1 with verifying proofs, SETs, checkpoints; duplicates get the first entry', async () => {
  await withDb(async (db) => {
    const { perSecond } = await scenarioConcurrentSubmissions(db, 3000);
    console.log(`# sqlite write path: ${perSecond.toFixed(0)} entries/s (3000 concurrent submissions)`);
    assert.ok(perSecond > 0);
  });
});

test('sqlite: restart on the same database continues the log consistently', () => withDb(scenarioRestart));
test('sqlite: a batch failing before COMMIT leaves database and tree unchanged', () =>
  withDb(scenarioFailedBatch));
test('sqlite: a stolen lease token makes the commit fail; re-acquired after expiry', () =>
  withDb(scenarioStolenLease));
test('sqlite: PUSHBACK beyond MAX_PENDING; integratedTime from the injected clock', () =>
  withDb(scenarioPushback));
test('sqlite: refuses to start when stored tiles disagree with the checkpoint', () =>
  withDb(scenarioRefusesInconsistentTiles));
test('sqlite: boot waits for a live lease holder, takes over at once from a dead one', () =>
  withDb(scenarioLeaseAtBoot));
test('sqlite: kill -9 mid-stream loses no acknowledged entry', () =>
  withDb((db) => scenarioKill9(db, join(__dirname, 'sequencer-crash-child.js'))));
