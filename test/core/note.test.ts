import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  c2spKeyId,
  cosignatureMessage,
  decodeNoteBytes,
  ed25519CosignatureSigner,
  ed25519CosignatureVerifier,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatSignedNote,
  formatVerifierKey,
  openNote,
  parseCosignature,
  parseSignedNote,
  parseVerifierKey,
  rekorKeyId,
  signNote,
  type NoteVerifier,
} from '../../src/core/note';
import { LogSigningKey } from '../../src/core/keys';
import { isVellumError } from '../../src/core/errors';
import { readVector } from '../support/paths';

interface Example {
  name: string;
  verifiable: boolean;
  note?: string;
  signedText?: string;
  vkey?: string;
  keyName?: string;
  keyIdHex?: string;
  signatureLines?: string[];
  signatureBytes?: number;
  signature?: { keyName: string; keyIdHex: string; signatureBytes: number };
  cosignature?: {
    keyName?: string;
    keyIdHex?: string;
    timestamp: number;
    decodedBytes?: number;
    signedMessage: string;
  };
  otherSignatures?: Array<{ keyName: string; keyIdHex: string }>;
  logIdHex?: string;
  trustedRootTlog?: { publicKey: { rawBytes: string } };
  request?: { body: string };
  response?: { body: string };
}

const examples = readVector<{ examples: Example[] }>('c2sp-notes.json').examples;
const byName = (n: string) => examples.find((e) => e.name === n)!;
const invalidNote = (e: unknown) => isVellumError(e, 'INVALID_NOTE');
const invalidKey = (e: unknown) => isVellumError(e, 'INVALID_KEY');
const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * Flips one bit of every byte of `note` (as UTF-8). A flip inside the text, the separator or a
 * known signature line must make openNote fail; a flip inside an unknown signature line must
 * either break parsing or be ignored (the note still opens).
 */
function assertEveryMutationFails(note: string, verifiers: NoteVerifier[]): number {
  const bytes = Buffer.from(note, 'utf8');
  const text = parseSignedNote(note).text;
  const knownNames = new Set(verifiers.map((v) => v.name));
  // Byte ranges of signature lines that no verifier knows.
  const unknown: Array<[number, number]> = [];
  let pos = Buffer.byteLength(text) + 1;
  for (const line of note.slice(text.length + 1).split(/(?<=\n)/)) {
    const len = Buffer.byteLength(line);
    const name = line.slice(2, line.indexOf(' ', 2));
    if (!knownNames.has(name)) unknown.push([pos, pos + len - 1]); // its final \n is structural
    pos += len;
  }
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const m = Buffer.from(bytes);
    m[i] ^= 0x01;
    const where = `byte ${i} of ${JSON.stringify(note)}`;
    if (unknown.some(([a, b]) => i >= a && i < b)) {
      try {
        assert.equal(openNote(decodeNoteBytes(m), verifiers).text, text, where);
      } catch (e) {
        assert.ok(invalidNote(e), where);
      }
      continue;
    }
    assert.throws(() => openNote(decodeNoteBytes(m), verifiers), invalidNote, where);
    n++;
  }
  return n;
}

describe('c2sp-notes.json vectors', () => {
  it('every note parses, re-serialises byte for byte and splits text/signatures as published', () => {
    let seen = 0;
    for (const ex of examples) {
      if (!ex.note) continue;
      seen++;
      const parsed = parseSignedNote(ex.note);
      assert.equal(parsed.text, ex.signedText ?? parsed.text, ex.name);
      assert.equal(formatSignedNote(parsed), ex.note, ex.name);
      assert.equal(parsed.signatures.length, ex.signatureLines!.length, ex.name);
      parsed.signatures.forEach((sig, i) => {
        const one = formatSignedNote({ text: parsed.text, signatures: [sig] });
        assert.equal(one.slice(parsed.text.length + 1), ex.signatureLines![i], ex.name);
      });
      if (ex.signedText) assert.ok(ex.note.startsWith(ex.signedText + '\n'), ex.name);
    }
    assert.equal(seen, 6);
  });

  it('key IDs and signature lengths match the published values', () => {
    const spec = parseSignedNote(byName('signed-note-spec-example').note!);
    assert.equal(hex8(spec.signatures[0]!.keyId), '530d903a');
    assert.equal(spec.signatures[0]!.signature.length + 4, 68);

    const cp = byName('tlog-checkpoint-spec-example');
    const cpSig = parseSignedNote(cp.note!).signatures[0]!;
    assert.equal(hex8(cpSig.keyId), cp.signature!.keyIdHex);
    assert.equal(cpSig.name, cp.signature!.keyName);
    assert.equal(cpSig.signature.length, cp.signature!.signatureBytes);

    const real = byName('real-ed25519-cosignature');
    const realSigs = parseSignedNote(real.note!).signatures;
    assert.deepEqual(
      realSigs.map((s) => [s.name, hex8(s.keyId)]),
      [
        [real.otherSignatures![0]!.keyName, real.otherSignatures![0]!.keyIdHex],
        [real.keyName, real.keyIdHex],
      ],
    );
  });

  it('cosignatures: decode timestamp and signature, build the cosignature/v1 message', () => {
    const ex = byName('tlog-cosignature-spec-example');
    const sig = parseSignedNote(ex.note!).signatures.find((s) => s.name === ex.cosignature!.keyName)!;
    assert.equal(hex8(sig.keyId), ex.cosignature!.keyIdHex);
    assert.equal(sig.signature.length + 4, ex.cosignature!.decodedBytes);
    const cs = parseCosignature(sig.signature);
    assert.equal(cs.timestamp, ex.cosignature!.timestamp);
    assert.equal(cs.signature.length, 64);
    const text = parseSignedNote(ex.note!).text;
    assert.equal(cosignatureMessage(cs.timestamp, text).toString('utf8'), ex.cosignature!.signedMessage);

    const real = byName('real-ed25519-cosignature');
    const rsig = parseSignedNote(real.note!).signatures.find((s) => s.name === real.keyName)!;
    assert.equal(parseCosignature(rsig.signature).timestamp, real.cosignature!.timestamp);
    assert.equal(
      cosignatureMessage(real.cosignature!.timestamp, real.signedText!).toString(),
      real.cosignature!.signedMessage,
    );
    assert.throws(() => parseCosignature(sig.signature.subarray(1)), invalidNote);
    assert.throws(
      () => parseCosignature(Buffer.concat([Buffer.alloc(8, 0xff), Buffer.alloc(64)])),
      invalidNote,
    );
  });

  it('vkeys parse (split on the first two "+"), key IDs follow the rule for their type, and re-format', () => {
    const withKeys = examples.filter((e) => e.vkey);
    assert.equal(withKeys.length, 4);
    for (const ex of withKeys) {
      const v = parseVerifierKey(ex.vkey!);
      assert.equal(v.name, ex.keyName);
      assert.equal(hex8(v.keyId), ex.keyIdHex);
      assert.equal(formatVerifierKey(v.name, v.type, v.publicKey), ex.vkey);
      // Independent recomputation of the key ID rules.
      const rule =
        v.type === 0x02
          ? sha256(v.publicKey)
          : sha256(Buffer.from(v.name), Buffer.from([0x0a, v.type]), v.publicKey);
      assert.equal(hex8(rule.readUInt32BE(0)), ex.keyIdHex, ex.name);
      assert.equal(
        v.type === 0x02 ? rekorKeyId(v.publicKey) : c2spKeyId(v.name, v.type, v.publicKey),
        v.keyId,
      );
    }
    // These vkeys contain '+' inside their base64, which a naive split would break.
    const plusInside = withKeys.filter((e) => e.vkey!.split('+').length > 3);
    assert.ok(plusInside.length >= 2);
    // Rekor v2's logId is the full hash behind the 0x01 key ID.
    const v2 = byName('rekor-v2-ed25519-checkpoint');
    const pk = parseVerifierKey(v2.vkey!).publicKey;
    assert.equal(
      sha256(Buffer.from(v2.keyName!), Buffer.from([0x0a, 0x01]), pk).toString('hex'),
      v2.logIdHex,
    );
    assert.deepEqual(pk, Buffer.from(v2.trustedRootTlog!.publicKey.rawBytes, 'base64').subarray(12));
  });

  it('the four verifiable notes verify; every one-bit mutation of them fails', () => {
    let mutations = 0;
    for (const ex of examples.filter((e) => e.verifiable)) {
      const v = parseVerifierKey(ex.vkey!);
      const opened = openNote(ex.note!, [v]);
      assert.equal(opened.text, ex.signedText);
      assert.deepEqual(opened.verifiedBy, [v]);
      assert.equal(opened.verifiedSignatures[0]!.name, v.name);
      mutations += assertEveryMutationFails(ex.note!, [v]);
    }
    assert.ok(mutations > 600);
  });

  it('unknown signatures are ignored; name-only or ID-only matches count as unknown', () => {
    const real = byName('real-ed25519-cosignature');
    // The 0x05 log signature in this note is unknown to a witness-only verifier.
    assert.equal(openNote(real.note!, [parseVerifierKey(real.vkey!)]).verifiedBy.length, 1);

    const spec = byName('signed-note-spec-example');
    const v = parseVerifierKey(spec.vkey!);
    const id = (n: number) => Buffer.from(hex8(n), 'hex');
    const extra = [
      `— other.example/key ${Buffer.concat([id(0x01020304), Buffer.alloc(64, 7)]).toString('base64')}\n`,
      // same name, other key ID
      `— example.com/foo ${Buffer.concat([id((v.keyId ^ 1) >>> 0), Buffer.alloc(64, 7)]).toString('base64')}\n`,
      // same key ID, other name
      `— example.com/bar ${Buffer.concat([id(v.keyId), Buffer.alloc(64, 7)]).toString('base64')}\n`,
    ];
    const note = spec.note! + extra.join('');
    assert.deepEqual(openNote(note, [v]).verifiedBy, [v]);
    // Put the unknown lines first: order does not matter.
    const reordered = spec.signedText + '\n' + extra.join('') + spec.signatureLines![0];
    assert.deepEqual(openNote(reordered, [v]).verifiedBy, [v]);
    // Only unknown signatures: rejected.
    const stranger = ed25519NoteVerifier('example.com/foo', LogSigningKey.generate('ed25519').publicKey);
    assert.throws(() => openNote(spec.note!, [stranger]), invalidNote);
    assert.throws(() => openNote(spec.note!, []), invalidNote);
  });

  it('a known signature that fails rejects the note even when another one verifies', () => {
    const spec = byName('signed-note-spec-example');
    const v = parseVerifierKey(spec.vkey!);
    const mine = LogSigningKey.generate('ed25519');
    const signer = ed25519NoteSigner('vellum.example/witness', mine);
    const verifier = ed25519NoteVerifier('vellum.example/witness', mine.publicKey);
    const good = signNote(spec.signedText!, [signer]);
    const goodLine = good.slice(spec.signedText!.length + 1);
    assert.equal(openNote(spec.note! + goodLine, [v, verifier]).verifiedBy.length, 2);
    const parsedLine = parseSignedNote(good).signatures[0]!;
    const badSig = Buffer.from(parsedLine.signature);
    badSig[10] ^= 0x80;
    const badNote = formatSignedNote({
      text: spec.signedText!,
      signatures: [...parseSignedNote(spec.note!).signatures, { ...parsedLine, signature: badSig }],
    });
    assert.throws(() => openNote(badNote, [v, verifier]), invalidNote);
    // Without the verifier for the bad line it is just unknown.
    assert.equal(openNote(badNote, [v]).verifiedBy.length, 1);
    // Repeated lines by one known key: only the first is checked (golang.org/x/mod/sumdb/note).
    const repeated =
      spec.note! +
      `— example.com/foo ${Buffer.concat([Buffer.from(hex8(v.keyId), 'hex'), Buffer.alloc(64)]).toString('base64')}\n`;
    assert.equal(openNote(repeated, [v]).verifiedBy.length, 1);
  });

  it('the signature covers the text only: including the blank separator line breaks it', () => {
    const spec = byName('signed-note-spec-example');
    const v = parseVerifierKey(spec.vkey!);
    const sig = parseSignedNote(spec.note!).signatures[0]!;
    assert.ok(v.verify(Buffer.from(spec.signedText!), sig.signature));
    assert.equal(v.verify(Buffer.from(spec.signedText! + '\n'), sig.signature), false);
    // A note whose text ends in the blank line has different signed bytes, so it fails.
    const withBlank = spec.signedText + '\n' + spec.note!.slice(spec.signedText!.length);
    assert.equal(parseSignedNote(withBlank).text, spec.signedText + '\n');
    assert.throws(() => openNote(withBlank, [v]), invalidNote);
  });

  it('rejects malformed and mismatched vkeys with INVALID_KEY', () => {
    const good = byName('signed-note-spec-example').vkey!;
    const [name, id, b64] = [
      good.slice(0, good.indexOf('+')),
      good.split('+')[1]!,
      good.split('+').slice(2).join('+'),
    ];
    const key = Buffer.from(b64, 'base64');
    const ecdsa = byName('rekor-v1-checkpoint-as-ecdsa-note').vkey!;
    const cases = [
      '',
      name,
      `${name}+${id}`,
      `${name}+${id.toUpperCase()}+${b64}`,
      `${name}+${id.slice(1)}+${b64}`,
      `${name}+530d903b+${b64}`, // wrong ID
      `other.example+${id}+${b64}`, // ID belongs to another name
      `+${id}+${b64}`,
      `exa mple+${id}+${b64}`,
      `${name}+${id}+${b64.slice(0, -1)}`,
      `${name}+${id}+${Buffer.concat([Buffer.from([0x03]), key.subarray(1)]).toString('base64')}`, // reserved type
      `${name}+${id}+${key.subarray(0, 20).toString('base64')}`, // short key
      formatVerifierKey(name, 0x02, key.subarray(1)), // 0x02 with a raw Ed25519 key
      formatVerifierKey(name, 0x02, LogSigningKey.generate('ed25519').publicKey.der), // 0x02 must be ECDSA
      ecdsa.replace('+c0d23d6a+', '+c0d23d6b+'),
    ];
    for (const c of cases) assert.throws(() => parseVerifierKey(c), invalidKey, c);
  });

  it('signs and opens notes with generated keys: Ed25519 (0x01), ECDSA (0x02), cosignature (0x04)', () => {
    const text = 'vellum.example/log\n5\n' + Buffer.alloc(32, 1).toString('base64') + '\n';
    const ed = LogSigningKey.generate('ed25519');
    const ec = LogSigningKey.generate('ecdsa-p256');
    const w = LogSigningKey.generate('ed25519');
    const edSigner = ed25519NoteSigner('vellum.example/log', ed);
    const ecSigner = {
      name: 'vellum.example/ec',
      keyId: rekorKeyId(ec.publicKey.der),
      sign: (t: Uint8Array) => ec.signDeterministic(t),
    };
    const cosigner = ed25519CosignatureSigner('witness.example/w', w, 1767139200);
    const note = signNote(text, [edSigner, ecSigner, cosigner]);
    assert.equal(parseSignedNote(note).signatures.length, 3);
    const vkeys = [
      formatVerifierKey('vellum.example/log', 0x01, ed.publicKey.raw),
      formatVerifierKey('vellum.example/ec', 0x02, ec.publicKey.der),
      formatVerifierKey('witness.example/w', 0x04, w.publicKey.raw),
    ];
    const verifiers = vkeys.map(parseVerifierKey);
    assert.equal(verifiers[0]!.keyId, edSigner.keyId);
    assert.equal(verifiers[2]!.keyId, ed25519CosignatureVerifier('witness.example/w', w.publicKey).keyId);
    const opened = openNote(note, verifiers);
    assert.equal(opened.verifiedBy.length, 3);
    assert.equal(parseCosignature(opened.verifiedSignatures[2]!.signature).timestamp, 1767139200);
    for (const v of verifiers) assert.equal(openNote(note, [v]).verifiedBy.length, 1);
    // A cosignature is over the cosignature/v1 message, not the bare text: a plain 0x01 verifier
    // with the witness key (and the 0x04 ID) rejects it.
    const plain = { ...ed25519NoteVerifier('witness.example/w', w.publicKey), keyId: verifiers[2]!.keyId };
    assert.throws(() => openNote(note, [plain]), invalidNote);
    // Re-signing is deterministic: same note.
    assert.equal(signNote(text, [edSigner, ecSigner, cosigner]), note);
    assert.throws(() => ed25519NoteSigner('x', ec), invalidKey);
    assert.throws(() => ed25519NoteSigner('bad name', ed), invalidNote);
  });
});
