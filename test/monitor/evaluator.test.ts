import assert from 'node:assert/strict';
import { createHash, verify as cryptoVerify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseSignedNote } from '../../src/core/note';
import { eventId } from '../../src/core/monitor';
import { verifyAlertEvidence, type AlertEvidence } from '../../src/modules/monitor/monitor-events';
import { leafHash } from '../../src/core/merkle/hash';
import { rootFromInclusionProof } from '../../src/core/merkle/verify';
import {
  RELEASE_RULE_YAML,
  bootMonitor,
  certSigner,
  emailCert,
  ghCert,
  keySigner,
  postgresDb,
  prepared,
  sqliteDb,
  submit,
  type MonitorApp,
  type TestDb,
} from './harness';

interface AlertRow {
  id: string;
  type: string;
  rule_id: string;
  entry_index: number;
  status: string;
  expected: number;
  evidence: string | null;
}

async function alerts(m: MonitorApp): Promise<AlertRow[]> {
  const rows = await m.db.read<AlertRow>(
    'SELECT id, type, rule_id, entry_index, status, expected, evidence FROM monitor_alerts ORDER BY entry_index, rule_id, type',
  );
  // PostgreSQL returns BIGINT as strings.
  return rows.map((r) => ({ ...r, entry_index: Number(r.entry_index), expected: Number(r.expected) }));
}

/**
 * Offline check of an alert's evidence with nothing but the log's public key PEM and node:crypto:
 * leaf hash, ECDSA signature over the checkpoint text, RFC 6962 inclusion.
 */
function checkEvidenceIndependently(ev: AlertEvidence, publicKeyPem: string): void {
  const body = Buffer.from(ev.body, 'base64');
  const leaf = createHash('sha256')
    .update(Buffer.from([0]))
    .update(body)
    .digest();
  assert.equal(leaf.toString('hex'), ev.leafHash);
  assert.ok(ev.uuid.endsWith(ev.leafHash));
  const note = parseSignedNote(ev.checkpoint);
  const lines = note.text.split('\n');
  assert.equal(Number(lines[1]), ev.treeSize);
  assert.equal(Buffer.from(lines[2]!, 'base64').toString('hex'), ev.rootHash);
  const sig = note.signatures[0]!;
  assert.ok(
    cryptoVerify(
      'sha256',
      Buffer.from(note.text, 'utf8'),
      { key: publicKeyPem, dsaEncoding: 'der' },
      sig.signature,
    ),
    'checkpoint signature verifies under the log key',
  );
  const root = rootFromInclusionProof(
    leaf,
    ev.logIndex,
    ev.treeSize,
    ev.inclusionProof.map((h) => Buffer.from(h, 'hex')),
  );
  assert.equal(root.toString('hex'), ev.rootHash);
}

async function scenarioRules(db: TestDb): Promise<void> {
  const rulesPath = join(db.dataDir, 'rules.yaml');
  writeFileSync(rulesPath, RELEASE_RULE_YAML);
  const env = { MONITOR_RULES_PATH: rulesPath, MONITOR_BATCH_SIZE: '3' };
  let m = await bootMonitor(db, { monitorEnv: env });
  try {
    assert.deepEqual((await m.rules.current()).map((r) => r.id).sort(), ['oncall-email', 'release-signer']);
    const runUri = 'https://github.com/org/repo/actions/runs/777/attempts/1';
    // Pre-registered expected signing (what POST /v1/monitor/expectations stores).
    await m.db.transaction((tx) =>
      m.expectations.insert(tx, { id: 'exp-777', runInvocationUri: runUri, createdAt: Date.now() }),
    );

    const idx: Record<string, number> = {};
    idx.release = await submit(m, prepared(certSigner(ghCert())));
    idx.ci = await submit(m, prepared(certSigner(ghCert({ file: 'ci.yml', ref: 'refs/heads/main' }))));
    idx.selfHosted = await submit(m, prepared(certSigner(ghCert({ runner: 'self-hosted' }))));
    idx.evil = await submit(m, prepared(certSigner(emailCert('xuser@domain.com.evil'))));
    idx.user = await submit(m, prepared(certSigner(emailCert('user@domain.com'))));
    idx.expected = await submit(
      m,
      prepared(certSigner(ghCert({ file: 'ci.yml', ref: 'refs/heads/main', runUri }))),
    );
    idx.key = await submit(m, prepared(keySigner()));
    idx.otherRepo = await submit(m, prepared(certSigner(ghCert({ file: 'ci.yml', repoId: '999' }))));

    // An aborted batch (crash before COMMIT) leaves nothing behind and is redone.
    let failOnce = true;
    (
      m.evaluator as unknown as { options: { beforeCommit?: (b: { fromIndex: number }) => void } }
    ).options.beforeCommit = (b) => {
      if (failOnce && b.fromIndex === 3) {
        failOnce = false;
        throw new Error('simulated crash before commit');
      }
    };
    await m.evaluator.tick(); // [0, 3)
    await assert.rejects(m.evaluator.tick(), /simulated crash/); // [3, 6) rolled back
    assert.equal((await m.state.getCursor()).nextIndex, 3);
    const res = await m.evaluator.runUntilIdle();
    assert.ok(res.processed >= 5);
    assert.equal((await m.state.getCursor()).nextIndex, 8);

    const rows = await alerts(m);
    const seen = rows.map((r) => [r.entry_index, r.rule_id, r.type, r.status, r.expected]);
    assert.deepEqual(seen, [
      [idx.ci, 'release-signer', 'identity.unexpected', 'open', 0],
      [idx.selfHosted, 'release-signer', 'identity.unexpected', 'open', 0],
      [idx.user, 'oncall-email', 'identity.matched', 'open', 0],
      [idx.expected, 'release-signer', 'identity.unexpected', 'recorded', 1],
    ]);
    // Alert key = the stable event id.
    for (const r of rows)
      assert.equal(
        r.id,
        eventId(m.identity.origin, r.entry_index, r.rule_id, r.type as 'identity.unexpected'),
      );
    // Evidence checks offline with the log key only.
    for (const r of rows) {
      const ev = JSON.parse(r.evidence!) as AlertEvidence;
      checkEvidenceIndependently(ev, m.identity.publicKey.pem);
      verifyAlertEvidence(ev, m.publicKey);
      assert.equal(ev.logIndex, r.entry_index);
    }
    // A forged evidence (other body) fails.
    const ev0 = JSON.parse(rows[0]!.evidence!) as AlertEvidence;
    assert.throws(() =>
      checkEvidenceIndependently(
        { ...ev0, body: Buffer.from('{}').toString('base64') },
        m.identity.publicKey.pem,
      ),
    );

    // Restart on the same database: nothing is evaluated twice; new entries are.
    await m.close();
    m = await bootMonitor(db, { monitorEnv: env });
    assert.equal((await m.evaluator.runUntilIdle()).processed, 0);
    assert.equal((await alerts(m)).length, 4);
    const later = await submit(m, prepared(certSigner(ghCert({ ref: 'refs/heads/feature' }))));
    await m.evaluator.runUntilIdle();
    const after = await alerts(m);
    assert.equal(after.length, 5);
    assert.deepEqual(
      [after[4]!.entry_index, after[4]!.rule_id, after[4]!.type],
      [later, 'release-signer', 'identity.unexpected'],
    );
    // Replaying the whole log (cursor reset by hand) finds the same alerts and inserts nothing new.
    await m.db.transaction((tx) => tx.execute('DELETE FROM monitor_cursor'));
    await m.evaluator.runUntilIdle();
    assert.equal((await alerts(m)).length, 5);
    // Identity index written for backfills.
    const keys = await m.db.read<{ key: string }>('SELECT key FROM monitor_identity_keys WHERE idx = ?', [
      idx.user,
    ]);
    assert.ok(keys.some((k) => k.key === 'subj:user@domain.com'));
  } finally {
    await m.close();
    await db.cleanup();
  }
}

const RULES_TITLE =
  'rules on real certificates: scope/expect, anchoring, expectations; alerts once per entry across restarts and an aborted batch; evidence verifies offline';
test(`sqlite: ${RULES_TITLE}`, async () => scenarioRules(await sqliteDb()));
test(`postgres: ${RULES_TITLE}`, async () => scenarioRules(await postgresDb()));

test('the evaluator checks the log it reads: a rewritten entry raises log.inconsistent and stops the cursor', async () => {
  const db = await sqliteDb();
  const m = await bootMonitor(db);
  try {
    for (let i = 0; i < 5; i++) await submit(m, prepared(keySigner()));
    await m.evaluator.runUntilIdle();
    assert.equal((await m.state.getCursor()).nextIndex, 5);
    for (let i = 0; i < 3; i++) await submit(m, prepared(keySigner()));
    // Rewrite entry 6 behind the log's back: body and leaf hash both changed, so only the
    // rebuilt root can tell.
    const body = Buffer.from(
      JSON.stringify({ apiVersion: '0.0.1', kind: 'hashedrekord', spec: { forged: true } }),
    );
    await db.exec('UPDATE entries SET body = ?, leaf_hash = ? WHERE idx = 6', [body, leafHash(body)]);
    const r = await m.evaluator.tick();
    assert.match(r.inconsistent ?? '', /rebuilt from all 8 entries/);
    assert.equal((await m.state.getCursor()).nextIndex, 5, 'cursor did not move past the bad batch');
    const rows = await alerts(m);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.type, 'log.inconsistent');
    assert.equal((await m.evaluator.tick()).processed, 0, 'stays halted');
  } finally {
    await m.close();
    await db.cleanup();
  }
});

test('monitor.lagging once per episode when the cursor is too far behind', async () => {
  const db = await sqliteDb();
  const m = await bootMonitor(db, { monitorEnv: { MONITOR_LAG_ENTRIES: '4', MONITOR_BATCH_SIZE: '2' } });
  try {
    for (let i = 0; i < 9; i++) await submit(m, prepared(keySigner()));
    await m.evaluator.runUntilIdle();
    const rows = await alerts(m);
    assert.deepEqual(
      rows.map((r) => r.type),
      ['monitor.lagging'],
    );
    // Caught up: the episode ends; a new lag later is a new alert.
    for (let i = 0; i < 6; i++) await submit(m, prepared(keySigner()));
    await m.evaluator.runUntilIdle();
    assert.equal((await alerts(m)).filter((r) => r.type === 'monitor.lagging').length, 2);
  } finally {
    await m.close();
    await db.cleanup();
  }
});
