import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  formatCheckpoint,
  parseCheckpoint,
  rekorNoteSigner,
  rekorNoteVerifier,
  rekorOrigin,
  rekorV2LogId,
  signRekorCheckpoint,
  verifyRekorCheckpoint,
  type Checkpoint,
} from '../../src/core/checkpoint';
import { LogPublicKey, LogSigningKey } from '../../src/core/keys';
import {
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatSignedNote,
  formatVerifierKey,
  openNote,
  parseSignedNote,
  parseVerifierKey,
  signNote,
} from '../../src/core/note';
import { isVellumError } from '../../src/core/errors';
import { readVector } from '../support/paths';

const invalidNote = (e: unknown) => isVellumError(e, 'INVALID_NOTE');
const invalidArg = (e: unknown) => isVellumError(e, 'INVALID_ARGUMENT');
const ROOT = Buffer.from(
  '0a c5 18 6a 91 86 3e 8e 1d 90 c8 08 01 4a a8 9b f5 da 8e 3e e1 d9 f0 76 30 f0 37 8f 68 f1 ab 62'.replace(
    / /g,
    '',
  ),
  'hex',
);
const cp: Checkpoint = { origin: 'vellum.example - 42', size: 20852163, rootHash: ROOT, extensions: [] };

describe('checkpoint text', () => {
  it('formats and parses the C2SP spec example', () => {
    const ex = readVector<{
      examples: Array<{
        name: string;
        signedText: string;
        origin: string;
        treeSize: number;
        rootHashBase64: string;
      }>;
    }>('c2sp-notes.json').examples.find((e) => e.name === 'tlog-checkpoint-spec-example')!;
    const parsed = parseCheckpoint(ex.signedText);
    assert.equal(parsed.origin, ex.origin);
    assert.equal(parsed.size, ex.treeSize);
    assert.equal(parsed.rootHash.toString('base64'), ex.rootHashBase64);
    assert.deepEqual(parsed.extensions, []);
    assert.equal(formatCheckpoint(parsed), ex.signedText);
  });

  it('round-trips extensions and size 0', () => {
    const withExt = { ...cp, size: 0, extensions: ['Timestamp: 1689177043498794794', 'x'] };
    const text = formatCheckpoint(withExt);
    assert.equal(
      text,
      `vellum.example - 42\n0\n${ROOT.toString('base64')}\nTimestamp: 1689177043498794794\nx\n`,
    );
    assert.deepEqual(parseCheckpoint(text), withExt);
  });

  it('property: parse(format(cp)) == cp', () => {
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    const line = fc.string({ minLength: 1, maxLength: 30 }).filter((s) => !/[\u0000-\u001f]/.test(s));
    fc.assert(
      fc.property(
        line,
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(line, { maxLength: 3 }),
        (origin, size, root, extensions) => {
          const c = { origin, size, rootHash: Buffer.from(root), extensions };
          assert.deepStrictEqual(parseCheckpoint(formatCheckpoint(c)), c);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('parseCheckpoint rejects malformed text', () => {
    const b64 = ROOT.toString('base64');
    for (const bad of [
      `o\n1\n${b64}`, // no final newline
      `o\n1\n`,
      `o\n${b64}\n`,
      `\n1\n${b64}\n`, // empty origin
      `o\n01\n${b64}\n`,
      `o\n-1\n${b64}\n`,
      `o\n+1\n${b64}\n`,
      `o\n1.0\n${b64}\n`,
      `o\n 1\n${b64}\n`,
      `o\n9007199254740993\n${b64}\n`,
      `o\n1\n${ROOT.subarray(1).toString('base64')}\n`,
      `o\n1\n${Buffer.concat([ROOT, ROOT.subarray(0, 1)]).toString('base64')}\n`,
      `o\n1\n${ROOT.toString('base64url')}\n`,
      `o\n1\n${b64.replace('=', '')}\n`,
      `o\n1\n${b64}\n\next\n`, // empty line inside
      `o\n1\n${b64}\n\n`,
      `o\r\n1\n${b64}\n`,
      `o\tx\n1\n${b64}\n`,
    ]) {
      assert.throws(() => parseCheckpoint(bad), invalidNote, JSON.stringify(bad));
    }
    assert.equal(parseCheckpoint(`o\n1\n${b64}\n`).size, 1);
  });

  it('formatCheckpoint refuses what would not parse (or would break sigstore-js)', () => {
    for (const bad of [
      { ...cp, origin: '' },
      { ...cp, origin: 'a\nb' },
      { ...cp, size: -1 },
      { ...cp, size: 1.5 },
      { ...cp, size: 2 ** 53 },
      { ...cp, rootHash: ROOT.subarray(1) },
      { ...cp, extensions: [''] },
      { ...cp, extensions: ['a\n'] },
    ]) {
      assert.throws(
        () => formatCheckpoint(bad),
        invalidNote,
        JSON.stringify({ ...bad, rootHash: undefined }),
      );
    }
  });

  it('rekorOrigin', () => {
    assert.equal(
      rekorOrigin('rekor.sigstore.dev', '2605736670972794746'),
      'rekor.sigstore.dev - 2605736670972794746',
    );
    for (const [h, t] of [
      ['', '1'],
      ['a b', '1'],
      ['a+b', '1'],
      ['host', '01'],
      ['host', '1.0'],
      ['host', ''],
      ['host', 'x'],
    ]) {
      assert.throws(() => rekorOrigin(h!, t!), invalidArg, `${h} ${t}`);
    }
  });
});

describe('Rekor checkpoint signing', () => {
  for (const alg of ['ecdsa-p256', 'ed25519'] as const) {
    it(`${alg}: sign then verify; one signature line, hint = logId[0:4], no empty line in the body`, () => {
      const key = LogSigningKey.generate(alg);
      const origin = rekorOrigin('vellum.example', '42');
      const c = { ...cp, origin };
      const note = signRekorCheckpoint(c, key, 'vellum.example');
      // sigstore-js splits at the FIRST blank line, Rekor at the last: they must agree.
      assert.equal(note.indexOf('\n\n'), note.lastIndexOf('\n\n'));
      assert.equal(note.slice(0, note.indexOf('\n\n') + 1), formatCheckpoint(c));
      const parsed = parseSignedNote(note);
      assert.equal(parsed.signatures.length, 1);
      assert.equal(note.split('\n— ').length, 2);
      const sig = parsed.signatures[0]!;
      assert.equal(sig.name, 'vellum.example');
      assert.deepEqual(
        Buffer.from(note.slice(note.lastIndexOf(' ') + 1, -1), 'base64').subarray(0, 4),
        key.publicKey.logId.subarray(0, 4),
      );
      assert.ok(/^\u2014 vellum\.example [A-Za-z0-9+/]+=*\n$/.test(note.slice(note.indexOf('\n\n') + 2)));
      assert.deepEqual(verifyRekorCheckpoint(note, key.publicKey, 'vellum.example'), c);
      assert.deepEqual(verifyRekorCheckpoint(note, key.publicKey), c);
      assert.equal(
        openNote(note, [rekorNoteVerifier('vellum.example', key.publicKey)]).text,
        formatCheckpoint(c),
      );
      // Deterministic: re-signing the same tree head yields the same note.
      assert.equal(signRekorCheckpoint(c, key, 'vellum.example'), note);
      assert.equal(rekorNoteSigner('vellum.example', key).keyId, key.publicKey.logId.readUInt32BE(0));
    });

    it(`${alg}: tampered or foreign checkpoints are rejected with INVALID_NOTE`, () => {
      const key = LogSigningKey.generate(alg);
      const c = { ...cp, origin: rekorOrigin('vellum.example', '42') };
      const note = signRekorCheckpoint(c, key, 'vellum.example');
      const other = LogSigningKey.generate(alg);
      const parsed = parseSignedNote(note);
      const sig = parsed.signatures[0]!;
      const flipped = Buffer.from(sig.signature);
      flipped[flipped.length - 5] ^= 0x01;
      const cases = [
        note.replace('\n20852163\n', '\n20852164\n'),
        note.replace('vellum.example - 42', 'vellum.example - 43'),
        note.replace(ROOT.toString('base64'), Buffer.alloc(32).toString('base64')),
        formatSignedNote({ text: parsed.text, signatures: [{ ...sig, signature: flipped }] }),
        // A second, bad signature under the same hint rejects the note even though one verifies.
        formatSignedNote({ text: parsed.text, signatures: [sig, { ...sig, signature: flipped }] }),
        note.slice(0, -1),
        note.replace('\u2014', '-'),
        formatCheckpoint(c),
      ];
      for (const bad of cases)
        assert.throws(() => verifyRekorCheckpoint(bad, key.publicKey, 'vellum.example'), invalidNote, bad);
      assert.throws(() => verifyRekorCheckpoint(note, other.publicKey, 'vellum.example'), invalidNote);
      assert.throws(() => verifyRekorCheckpoint(note, key.publicKey, 'other.example'), invalidNote);
      // Another key's signature (another hint) is ignored, not fatal.
      const both = formatSignedNote({
        text: parsed.text,
        signatures: [...parseSignedNote(signRekorCheckpoint(c, other, 'vellum.example')).signatures, sig],
      });
      assert.deepEqual(verifyRekorCheckpoint(both, key.publicKey, 'vellum.example'), c);
    });
  }

  it('an Ed25519 Rekor hint is NOT the C2SP 0x01 key ID: a generic Ed25519 verifier ignores the signature', () => {
    const key = LogSigningKey.generate('ed25519');
    const note = signRekorCheckpoint({ ...cp, origin: 'vellum.example' }, key, 'vellum.example');
    const generic = ed25519NoteVerifier('vellum.example', key.publicKey);
    assert.notEqual(generic.keyId, key.publicKey.logId.readUInt32BE(0));
    assert.throws(() => openNote(note, [generic]), invalidNote);
  });

  it('C2SP-style Ed25519 checkpoint (origin = key name) verifies with a vkey', () => {
    const key = LogSigningKey.generate('ed25519');
    const c = { ...cp, origin: 'vellum.example/log' };
    const note = signNote(formatCheckpoint(c), [ed25519NoteSigner('vellum.example/log', key)]);
    const v = parseVerifierKey(formatVerifierKey('vellum.example/log', 0x01, key.publicKey.raw));
    assert.deepEqual(parseCheckpoint(openNote(note, [v]).text), c);
  });
});

describe('Rekor v2 log ID', () => {
  it('is the full C2SP key hash for the staging Ed25519 log (key ID f30d5a99)', () => {
    const ex = readVector<{
      examples: Array<{
        name: string;
        keyName: string;
        logIdHex: string;
        keyIdHex: string;
        trustedRootTlog: { publicKey: { rawBytes: string } };
      }>;
    }>('c2sp-notes.json').examples.find((e) => e.name === 'rekor-v2-ed25519-checkpoint')!;
    const key = LogPublicKey.fromDer(Buffer.from(ex.trustedRootTlog.publicKey.rawBytes, 'base64'));
    const id = rekorV2LogId(key, ex.keyName);
    assert.equal(id.toString('hex'), ex.logIdHex);
    assert.equal(id.subarray(0, 4).toString('hex'), ex.keyIdHex);
    // The v1 face of the same key has a different ID: SHA-256 of the SPKI.
    assert.notEqual(key.logIdHex, ex.logIdHex);
    assert.notEqual(rekorV2LogId(key, 'other.example').toString('hex'), ex.logIdHex);
  });

  it('is the v1 logID for an ECDSA key, whatever the name', () => {
    const key = LogSigningKey.generate('ecdsa-p256').publicKey;
    assert.deepEqual(rekorV2LogId(key, 'a.example'), key.logId);
    assert.deepEqual(rekorV2LogId(key, 'b.example'), key.logId);
  });
});
