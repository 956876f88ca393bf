/**
 * The Ed25519 note key: generated once per DATA_DIR (mode 0600) beside an ECDSA log key, reused
 * after a crash between writing it and publishing it, published in `meta` for the processes that
 * hold no private key, and absent for an Ed25519 log key, which signs the C2SP line itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyRekorCheckpoint } from '../../src/core/checkpoint';
import { LogPublicKey, LogSigningKey } from '../../src/core/keys';
import { openNote, parseSignedNote, parseVerifierKey } from '../../src/core/note';
import { ConfigError } from '../../src/modules/config/config';
import { LogIdentity } from '../../src/modules/identity/log-identity';
import { LogSigner } from '../../src/modules/signer/log-signer';
import { boot, postgresDb, sqliteDb, testConfig, type TestDb, withTestDb } from './storage-harness';

async function metaValue(db: TestDb, key: string): Promise<string | undefined> {
  const rows = await db.exec('SELECT value FROM meta WHERE key = ?', [key]);
  return rows[0]?.value as string | undefined;
}

async function storedNotes(db: TestDb): Promise<string[]> {
  const rows = await db.exec('SELECT note FROM checkpoints ORDER BY size');
  return rows.map((r) => String(r.note));
}

test('note key: generated 0600 on first boot, reused after a crash before publishing, then published and signing', () =>
  withTestDb(sqliteDb, async (db) => {
    const notePath = join(db.dataDir, 'note-key.pem');
    // Boot the signer alone: the note key file is written, but no sequencer runs, so nothing is
    // published or signed: what a crash right after writing the file leaves.
    const first = await boot(testConfig(db), { writer: false });
    let fileKey: LogSigningKey;
    try {
      assert.equal(statSync(notePath).mode & 0o777, 0o600);
      fileKey = LogSigningKey.fromPem(readFileSync(notePath, 'utf8'));
      assert.equal(fileKey.algorithm, 'ed25519');
      assert.match(first.logger.lines.join('\n'), /generated a new Ed25519 note key/);
    } finally {
      await first.app.close();
    }
    assert.equal(await metaValue(db, 'note_public_key'), undefined, 'nothing published yet');

    const second = await boot(testConfig(db));
    try {
      const identity = second.app.get(LogIdentity);
      assert.match(second.logger.lines.join('\n'), /loaded Ed25519 note key/);
      assert.ok(
        identity.noteKey.der.equals(fileKey.publicKey.der),
        'the file written before the crash is reused',
      );
      assert.equal(await metaValue(db, 'note_public_key'), fileKey.publicKey.pem);
      assert.equal(
        LogSigningKey.fromPem(readFileSync(notePath, 'utf8')).publicKey.pem,
        fileKey.publicKey.pem,
      );

      const [emptyTree] = await storedNotes(db);
      const lines = parseSignedNote(emptyTree!).signatures;
      assert.equal(lines.length, 2, 'the stored checkpoint carries both lines');
      const vkeys = identity.vkeys.map(parseVerifierKey);
      assert.equal(openNote(emptyTree!, vkeys).verifiedBy.length, 2);
      const note = second.app.get(LogSigner).signCheckpoint(3, Buffer.alloc(32, 1));
      assert.equal(openNote(note, [vkeys[1]!]).verifiedBy.length, 1, 'the note key line alone verifies');
      verifyRekorCheckpoint(note, identity.publicKey, 'vellum.test');
    } finally {
      await second.app.close();
    }
  }));

test('note key: none for an Ed25519 log key; NOTE_KEY_PATH then, or a non-Ed25519 note key, stops the boot', () =>
  withTestDb(sqliteDb, async (db) => {
    const edPath = join(db.dataDir, 'ed.pem');
    writeFileSync(
      edPath,
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
      {
        mode: 0o600,
      },
    );
    const booted = await boot(testConfig(db, { SIGNING_KEY_PATH: edPath }));
    try {
      const identity = booted.app.get(LogIdentity);
      assert.ok(identity.noteKey === identity.publicKey, 'the log key signs the C2SP line');
      assert.equal(identity.vkeys.length, 1);
      assert.ok(!existsSync(join(db.dataDir, 'note-key.pem')), 'no note key generated');
      assert.equal(await metaValue(db, 'note_public_key'), undefined);
      const [emptyTree] = await storedNotes(db);
      assert.equal(openNote(emptyTree!, identity.vkeys.map(parseVerifierKey)).verifiedBy.length, 1);
    } finally {
      await booted.app.close();
    }

    await assert.rejects(
      boot(testConfig(db, { SIGNING_KEY_PATH: edPath, NOTE_KEY_PATH: edPath }), { writer: false }),
      (e: Error) => e instanceof ConfigError && e.variable === 'NOTE_KEY_PATH' && /Ed25519/.test(e.message),
    );
    const ecPath = join(db.dataDir, 'ec-note.pem');
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(ecPath, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await assert.rejects(
      boot(testConfig(db, { DATA_DIR: join(db.dataDir, 'other'), NOTE_KEY_PATH: ecPath }), { writer: false }),
      (e: Error) =>
        e instanceof ConfigError &&
        e.variable === 'NOTE_KEY_PATH' &&
        /ECDSA P-256 key; expected Ed25519/.test(e.message),
    );
    const missing = join(db.dataDir, 'missing.pem');
    await assert.rejects(
      boot(testConfig(db, { DATA_DIR: join(db.dataDir, 'third'), NOTE_KEY_PATH: missing }), {
        writer: false,
      }),
      (e: Error) =>
        e instanceof ConfigError && e.variable === 'NOTE_KEY_PATH' && /does not exist/.test(e.message),
    );
    assert.ok(!existsSync(missing), 'nothing generated at an explicit path');
  }));

test('note key: an API replica (no private keys) reads it from meta and checks it against the latest checkpoint', () =>
  withTestDb(postgresDb, async (db) => {
    const seq = await boot(testConfig(db));
    let noteKey: LogPublicKey;
    let vkeys: readonly string[];
    try {
      noteKey = seq.app.get(LogIdentity).noteKey;
      vkeys = seq.app.get(LogIdentity).vkeys;
    } finally {
      await seq.app.close();
    }
    const apiEnv = {
      ROLE: 'api',
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_HMAC_KEY: 'q'.repeat(32),
      DATA_DIR: join(db.dataDir, 'api'),
    };
    const api = await boot(testConfig(db, apiEnv), { writer: false });
    try {
      const identity = api.app.get(LogIdentity);
      assert.ok(identity.noteKey.der.equals(noteKey.der));
      assert.deepEqual(identity.vkeys, vkeys);
      assert.throws(
        () => api.app.get(LogSigner, { strict: false }),
        /could not find LogSigner/,
        'no signer in the api role',
      );
      assert.ok(!existsSync(join(db.dataDir, 'api', 'note-key.pem')), 'the replica writes no key');
    } finally {
      await api.app.close();
    }
    // A published note key that did not sign the latest checkpoint is refused.
    await db.exec('UPDATE meta SET value = ? WHERE key = ?', [
      LogSigningKey.generate('ed25519').publicKey.pem,
      'note_public_key',
    ]);
    await assert.rejects(
      boot(testConfig(db, apiEnv), { writer: false }),
      (e: Error) =>
        e instanceof ConfigError &&
        e.variable === 'NOTE_KEY_PATH' &&
        /does not verify under meta.note_public_key/.test(e.message),
    );
  }));
