import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeNoteBytes,
  formatSignedNote,
  MAX_NOTE_SIGNATURES,
  openNote,
  parseSignedNote,
  parseVerifierKey,
  signNote,
  type NoteSignature,
} from '../../src/core/note';
import { isVellumError } from '../../src/core/errors';
import { readVector } from '../support/paths';

const invalidNote = (e: unknown) => isVellumError(e, 'INVALID_NOTE');
const spec = readVector<{ examples: Array<{ name: string; note: string; vkey: string }> }>(
  'c2sp-notes.json',
).examples.find((e) => e.name === 'signed-note-spec-example')!;
const TEXT = 'This is an example message.\n';
const SIG_B64 = spec.note.slice(spec.note.lastIndexOf(' ') + 1, -1);

describe('signed-note parser: malformed input', () => {
  it('the unmodified spec note parses (so each rejection below is caused by its one change)', () => {
    assert.equal(parseSignedNote(`${TEXT}\n— example.com/foo ${SIG_B64}\n`).text, TEXT);
    assert.equal(openNote(spec.note, [parseVerifierKey(spec.vkey)]).text, TEXT);
  });

  const cases: Array<[string, string]> = [
    ['ASCII hyphen instead of em dash', `${TEXT}\n- example.com/foo ${SIG_B64}\n`],
    ['two hyphens', `${TEXT}\n-- example.com/foo ${SIG_B64}\n`],
    ['en dash', `${TEXT}\n\u2013 example.com/foo ${SIG_B64}\n`],
    ['em dash without space', `${TEXT}\n\u2014example.com/foo ${SIG_B64}\n`],
    ['missing final newline', `${TEXT}\n— example.com/foo ${SIG_B64}`],
    ['CRLF line endings', `${TEXT.replace('\n', '\r\n')}\r\n— example.com/foo ${SIG_B64}\r\n`],
    ['tab in text', `This is\tan example message.\n\n— example.com/foo ${SIG_B64}\n`],
    ['NUL in text', `This is\u0000an example message.\n\n— example.com/foo ${SIG_B64}\n`],
    ['ESC in signature line', `${TEXT}\n— example.com/foo\u001b ${SIG_B64}\n`],
    ['lone surrogate (not UTF-8)', `This is \ud800 message.\n\n— example.com/foo ${SIG_B64}\n`],
    ['no blank line', `${TEXT}— example.com/foo ${SIG_B64}\n`],
    ['no signatures', `${TEXT}\n`],
    ['no signatures, trailing blank', `${TEXT}\n\n`],
    ['text only', TEXT],
    ['empty', ''],
    ['empty name', `${TEXT}\n—  ${SIG_B64}\n`],
    ['name with +', `${TEXT}\n— example.com+foo ${SIG_B64}\n`],
    ['name with space', `${TEXT}\n— example.com foo ${SIG_B64}\n`],
    ['name with NBSP', `${TEXT}\n— example.com\u00a0foo ${SIG_B64}\n`],
    ['name with ideographic space', `${TEXT}\n— example.com\u3000foo ${SIG_B64}\n`],
    ['no space before signature', `${TEXT}\n— example.com/foo\n`],
    ['two spaces before signature', `${TEXT}\n— example.com/foo  ${SIG_B64}\n`],
    ['trailing space', `${TEXT}\n— example.com/foo ${SIG_B64} \n`],
    ['empty signature', `${TEXT}\n— example.com/foo \n`],
    ['4-byte signature (key ID only)', `${TEXT}\n— example.com/foo AAAAAA==\n`],
    ['unpadded base64', `${TEXT}\n— example.com/foo ${SIG_B64.replace(/=+$/, '')}\n`],
    ['url-safe base64', `${TEXT}\n— example.com/foo AAAAAAAA-_8=\n`], // standard form AAAAAAAA+/8= parses
    ['non-canonical padding bits', `${TEXT}\n— example.com/foo ${SIG_B64.replace(/M=$/, 'N=')}\n`],
  ];
  for (const [what, note] of cases) {
    it(`rejects: ${what}`, () => {
      assert.throws(() => parseSignedNote(note), invalidNote);
      assert.throws(() => openNote(note, [parseVerifierKey(spec.vkey)]), invalidNote);
    });
  }

  it('a blank line between signature lines moves the first line into the text, so it no longer verifies', () => {
    const note = `${TEXT}\n— example.com/foo ${SIG_B64}\n\n— example.com/foo ${SIG_B64}\n`;
    assert.equal(parseSignedNote(note).text, `${TEXT}\n— example.com/foo ${SIG_B64}\n`);
    assert.throws(() => openNote(note, [parseVerifierKey(spec.vkey)]), invalidNote);
    assert.equal(
      parseSignedNote(`${TEXT}\n— example.com/foo AAAAAAAA+/8=\n`).signatures[0]!.signature.length,
      4,
    );
  });

  it('caps the number of signature lines at MAX_NOTE_SIGNATURES', () => {
    const line = `— example.com/foo ${SIG_B64}\n`;
    assert.equal(
      parseSignedNote(`${TEXT}\n${line.repeat(MAX_NOTE_SIGNATURES)}`).signatures.length,
      MAX_NOTE_SIGNATURES,
    );
    assert.throws(() => parseSignedNote(`${TEXT}\n${line.repeat(MAX_NOTE_SIGNATURES + 1)}`), invalidNote);
  });

  it('accepts what the spec allows: blank lines inside the text, non-ASCII names and text, DEL', () => {
    const text = 'line one\n\nline three ünïcödé \u007f\n';
    const parsed = parseSignedNote(`${text}\n— héllo.example/ключ ${SIG_B64}\n`);
    assert.equal(parsed.text, text);
    assert.equal(parsed.signatures[0]!.name, 'héllo.example/ключ');
  });

  it('decodeNoteBytes rejects invalid UTF-8 instead of substituting U+FFFD', () => {
    const good = Buffer.from(spec.note, 'utf8');
    assert.equal(decodeNoteBytes(good), spec.note);
    for (const bad of [
      Buffer.from([0xff]),
      Buffer.from([0xe2, 0x80]),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from([0xc0, 0xaf]),
    ]) {
      assert.throws(
        () => decodeNoteBytes(Buffer.concat([good.subarray(0, 10), bad, good.subarray(10)])),
        invalidNote,
      );
    }
  });

  it('formatSignedNote and signNote refuse what could not be parsed back', () => {
    const sig: NoteSignature = { name: 'a.example', keyId: 1, signature: Buffer.alloc(64) };
    assert.throws(() => formatSignedNote({ text: 'no newline', signatures: [sig] }), invalidNote);
    assert.throws(() => formatSignedNote({ text: '', signatures: [sig] }), invalidNote);
    assert.throws(() => formatSignedNote({ text: 'a\tb\n', signatures: [sig] }), invalidNote);
    assert.throws(() => formatSignedNote({ text: TEXT, signatures: [] }), invalidNote);
    for (const bad of [
      { ...sig, name: '' },
      { ...sig, name: 'a b' },
      { ...sig, name: 'a+b' },
      { ...sig, name: 'a\nb' },
      { ...sig, keyId: -1 },
      { ...sig, keyId: 2 ** 32 },
      { ...sig, keyId: 1.5 },
      { ...sig, signature: Buffer.alloc(0) },
    ]) {
      assert.throws(
        () => formatSignedNote({ text: TEXT, signatures: [bad] }),
        invalidNote,
        JSON.stringify(bad.name),
      );
    }
    assert.throws(
      () => signNote('no newline', [{ name: 'x', keyId: 0, sign: () => Buffer.alloc(1) }]),
      invalidNote,
    );
  });

  it('property: format/parse round trip for arbitrary valid notes', () => {
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    const line = fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => !/[\u0000-\u001f]/.test(s));
    const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).filter(
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      (s) => !/[\u0000-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]/.test(s),
    );
    const sig = fc
      .tuple(name, fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ minLength: 1, maxLength: 80 }))
      .map(([n, keyId, u]): NoteSignature => ({ name: n, keyId, signature: Buffer.from(u) }));
    fc.assert(
      fc.property(
        fc.array(line, { minLength: 1, maxLength: 6 }),
        fc.array(sig, { minLength: 1, maxLength: 5 }),
        (lines, sigs) => {
          const note = { text: lines.join('\n') + '\n', signatures: sigs };
          const text = formatSignedNote(note);
          const back = parseSignedNote(text);
          assert.deepStrictEqual(back, note);
          assert.equal(formatSignedNote(back), text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
