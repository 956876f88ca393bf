/**
 * The two-line Vellum checkpoint: the Rekor-style line by the log key, then a C2SP type 0x01
 * Ed25519 line (the note key for an ECDSA log, the log key itself for an Ed25519 log). Checked
 * with our openNote under the published vkeys, with OpenSSL's command line for the Ed25519 line,
 * and with node:crypto for the ECDSA line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, verify as nodeVerify, createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkpointNoteKey,
  logVerifierKeys,
  parseCheckpoint,
  rekorV2LogId,
  signLogCheckpoint,
  signRekorCheckpoint,
  verifyRekorCheckpoint,
  type Checkpoint,
} from '../../src/core/checkpoint';
import { isVellumError } from '../../src/core/errors';
import { LogSigningKey } from '../../src/core/keys';
import { openNote, parseSignedNote, parseVerifierKey } from '../../src/core/note';

const NAME = 'log.vellum.test';
const cp: Checkpoint = {
  origin: `${NAME} - 7216355519346843185`,
  size: 1234,
  rootHash: createHash('sha256').update('root').digest(),
  extensions: [],
};

/** Verifies an Ed25519 signature with the openssl binary, independent of Node's bindings. */
function opensslEd25519Verify(spkiPem: string, message: Buffer, signature: Buffer): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'vellum-openssl-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), spkiPem);
    writeFileSync(join(dir, 'msg'), message);
    writeFileSync(join(dir, 'sig'), signature);
    try {
      execFileSync(
        'openssl',
        ['pkeyutl', '-verify', '-pubin', '-inkey', 'pub.pem', '-rawin', '-in', 'msg', '-sigfile', 'sig'],
        { cwd: dir, stdio: 'pipe' },
      );
      return true;
    } catch {
      return false;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The checkpoint's signature lines as (name, key ID hex, signature). */
function lines(note: string) {
  return parseSignedNote(note).signatures.map((s) => ({
    name: s.name,
    keyId: s.keyId.toString(16).padStart(8, '0'),
    signature: s.signature,
  }));
}

describe('checkpoints with a C2SP Ed25519 line', () => {
  const ecdsa = LogSigningKey.generate('ecdsa-p256');
  const noteKey = LogSigningKey.generate('ed25519');
  const ed = LogSigningKey.generate('ed25519');

  it('ECDSA log: Rekor line (SPKI-hash ID) then the note key line (C2SP 0x01 ID), both verifying independently', () => {
    const note = signLogCheckpoint(cp, NAME, ecdsa, noteKey);
    const text = Buffer.from(parseSignedNote(note).text, 'utf8');
    const [rekor, c2sp, ...rest] = lines(note);
    assert.equal(rest.length, 0);
    assert.equal(rekor!.name, NAME);
    assert.equal(rekor!.keyId, ecdsa.publicKey.logId.subarray(0, 4).toString('hex'));
    assert.equal(c2sp!.name, NAME);
    const expectedId = createHash('sha256')
      .update(Buffer.concat([Buffer.from(`${NAME}\n`), Buffer.from([0x01]), noteKey.publicKey.raw]))
      .digest()
      .subarray(0, 4)
      .toString('hex');
    assert.equal(c2sp!.keyId, expectedId);
    // node:crypto for the ECDSA line (SHA-256, DER), openssl for the Ed25519 line.
    assert.ok(nodeVerify('sha256', text, createPublicKey(ecdsa.publicKey.pem), rekor!.signature));
    assert.ok(opensslEd25519Verify(noteKey.publicKey.pem, text, c2sp!.signature));
    assert.ok(
      !opensslEd25519Verify(noteKey.publicKey.pem, Buffer.concat([text, Buffer.from('x')]), c2sp!.signature),
    );

    // The v1 reader still finds the log key's line; v2 log ID = v1 log ID for ECDSA.
    assert.deepEqual(verifyRekorCheckpoint(note, ecdsa.publicKey, NAME), cp);
    assert.ok(rekorV2LogId(ecdsa.publicKey, NAME).subarray(0, 4).equals(Buffer.from(rekor!.keyId, 'hex')));
  });

  it('ECDSA log: each published vkey alone opens the note, and both together', () => {
    const note = signLogCheckpoint(cp, NAME, ecdsa, noteKey);
    const vkeys = logVerifierKeys(NAME, ecdsa.publicKey, noteKey.publicKey);
    assert.equal(vkeys.length, 2);
    const [v02, v01] = vkeys.map(parseVerifierKey);
    assert.equal(v02!.type, 0x02);
    assert.equal(v01!.type, 0x01);
    assert.ok(v01!.publicKey.equals(noteKey.publicKey.raw));
    for (const vs of [[v02!], [v01!], [v02!, v01!]]) {
      const opened = openNote(note, vs);
      assert.equal(opened.verifiedBy.length, vs.length);
      assert.deepEqual(parseCheckpoint(opened.text), cp);
    }
    // A vkey for another note key is unknown: ignored, so alone it opens nothing.
    const other = logVerifierKeys(NAME, ecdsa.publicKey, LogSigningKey.generate('ed25519').publicKey)[1]!;
    assert.throws(
      () => openNote(note, [parseVerifierKey(other)]),
      (e) => isVellumError(e, 'INVALID_NOTE'),
    );
  });

  it('Ed25519 log: the log key signs both lines; the C2SP line carries v2LogId[0:4] and verifies with openssl', () => {
    const note = signLogCheckpoint(cp, NAME, ed, undefined);
    const text = Buffer.from(parseSignedNote(note).text, 'utf8');
    const [rekor, c2sp] = lines(note);
    assert.equal(rekor!.keyId, ed.publicKey.logId.subarray(0, 4).toString('hex'));
    assert.equal(c2sp!.keyId, rekorV2LogId(ed.publicKey, NAME).subarray(0, 4).toString('hex'));
    assert.notEqual(rekor!.keyId, c2sp!.keyId);
    assert.ok(opensslEd25519Verify(ed.publicKey.pem, text, rekor!.signature));
    assert.ok(opensslEd25519Verify(ed.publicKey.pem, text, c2sp!.signature));
    const vkeys = logVerifierKeys(NAME, ed.publicKey, undefined);
    assert.equal(vkeys.length, 1);
    assert.deepEqual(parseCheckpoint(openNote(note, vkeys.map(parseVerifierKey)).text), cp);
    assert.deepEqual(verifyRekorCheckpoint(note, ed.publicKey, NAME), cp);
    assert.ok(checkpointNoteKey(ed.publicKey, undefined) === ed.publicKey);
  });

  it('a tampered C2SP line rejects the note for a C2SP verifier; the v1 reader ignores it', () => {
    const note = signLogCheckpoint(cp, NAME, ecdsa, noteKey);
    const sigLines = note.split('\n');
    const last = sigLines.length - 2;
    const raw = Buffer.from(sigLines[last]!.split(' ')[2]!, 'base64');
    raw[10] = raw[10]! ^ 1;
    sigLines[last] = `\u2014 ${NAME} ${raw.toString('base64')}`;
    const bad = sigLines.join('\n');
    const v01 = parseVerifierKey(logVerifierKeys(NAME, ecdsa.publicKey, noteKey.publicKey)[1]!);
    assert.throws(
      () => openNote(bad, [v01]),
      (e) => isVellumError(e, 'INVALID_NOTE'),
    );
    assert.deepEqual(verifyRekorCheckpoint(bad, ecdsa.publicKey, NAME), cp);
  });

  it('old single-line checkpoints (before the note key) still verify under the log key and its 0x02 vkey', () => {
    const old = signRekorCheckpoint(cp, ecdsa, NAME);
    assert.equal(lines(old).length, 1);
    assert.deepEqual(verifyRekorCheckpoint(old, ecdsa.publicKey, NAME), cp);
    const v02 = parseVerifierKey(logVerifierKeys(NAME, ecdsa.publicKey, noteKey.publicKey)[0]!);
    assert.deepEqual(parseCheckpoint(openNote(old, [v02]).text), cp);
  });

  it('refuses an ECDSA log without a note key, and a separate note key for an Ed25519 log', () => {
    const invalidKey = (e: unknown) => isVellumError(e, 'INVALID_KEY');
    assert.throws(() => signLogCheckpoint(cp, NAME, ecdsa, undefined), invalidKey);
    assert.throws(() => signLogCheckpoint(cp, NAME, ed, noteKey), invalidKey);
    assert.throws(() => logVerifierKeys(NAME, ecdsa.publicKey, undefined), invalidKey);
    assert.throws(() => checkpointNoteKey(ecdsa.publicKey, ecdsa.publicKey), invalidKey);
  });

  it('signatures are deterministic: re-signing after a crash gives the same bytes', () => {
    assert.equal(signLogCheckpoint(cp, NAME, ecdsa, noteKey), signLogCheckpoint(cp, NAME, ecdsa, noteKey));
    assert.equal(signLogCheckpoint(cp, NAME, ed, undefined), signLogCheckpoint(cp, NAME, ed, undefined));
  });
});
