import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  cosignatureLines,
  decideAddCheckpoint,
  parseAddCheckpointRequest,
  type AddCheckpointDecision,
  type WitnessState,
} from '../../src/core/witness/add-checkpoint';
import {
  appendCosignatures,
  formatAddCheckpointRequest,
  parseTlogSize,
  verifyCosignatureResponse,
} from '../../src/core/witness/cosign-request';
import { formatCheckpoint } from '../../src/core/checkpoint';
import {
  ed25519CosignatureSigner,
  ed25519NoteSigner,
  formatVerifierKey,
  NOTE_KEY_TYPE,
  openNote,
  parseVerifierKey,
  signNote,
} from '../../src/core/note';
import { LogSigningKey } from '../../src/core/keys';
import { isVellumError } from '../../src/core/errors';
import { ListTree, referenceConsistency, referenceRoot, refLeafHash } from '../support/reference-merkle';

const ORIGIN = 'example.com/witness-test';
const logKey = LogSigningKey.generate('ed25519');
const logVkey = parseVerifierKey(formatVerifierKey(ORIGIN, NOTE_KEY_TYPE.ed25519, logKey.publicKey.raw));
const witnessKey = LogSigningKey.generate('ed25519');
const witnessVkey = parseVerifierKey(
  formatVerifierKey('witness.example', NOTE_KEY_TYPE.cosignatureV1, witnessKey.publicKey.raw),
);

function tree(n: number, salt = ''): ListTree {
  const t = new ListTree();
  t.add(Array.from({ length: n }, (_, i) => refLeafHash(Buffer.from(`${salt}leaf ${i}`))));
  return t;
}

function note(t: ListTree, size: number, key = logKey): string {
  const text = formatCheckpoint({
    origin: ORIGIN,
    size,
    rootHash: referenceRoot(t, BigInt(size)),
    extensions: [],
  });
  return signNote(text, [ed25519NoteSigner(ORIGIN, key)]);
}

function body(old: number, proof: readonly Buffer[], n: string): Buffer {
  return Buffer.from(formatAddCheckpointRequest(old, proof, n));
}

const findLog = (o: string) => (o === ORIGIN ? { origin: ORIGIN, verifiers: [logVkey] } : undefined);

function decide(b: Buffer, state?: WitnessState): AddCheckpointDecision {
  return decideAddCheckpoint(parseAddCheckpointRequest(b), findLog, () => state);
}

describe('witness add-checkpoint (C2SP tlog-witness)', () => {
  const t = tree(40);
  const stateAt = (size: number): WitnessState => ({ size, rootHash: referenceRoot(t, BigInt(size)) });

  it('cosigns a first checkpoint from old 0, and a consistent later one', () => {
    const first = decide(body(0, [], note(t, 13)));
    assert.equal(first.kind, 'cosign');
    const proof = referenceConsistency(t, 13n, 40n);
    const next = decide(body(13, proof, note(t, 40)), stateAt(13));
    assert.equal(next.kind, 'cosign');
    if (next.kind !== 'cosign') return;
    assert.equal(next.checkpoint.size, 40);
    const lines = cosignatureLines(
      next.text,
      ed25519CosignatureSigner('witness.example', witnessKey, 1700000000),
    );
    const sig = verifyCosignatureResponse(next.text, lines, witnessVkey);
    assert.equal(sig.name, 'witness.example');
    const witnessed = appendCosignatures(note(t, 40), [sig, sig]);
    const opened = openNote(witnessed, [logVkey, witnessVkey]);
    assert.equal(opened.verifiedBy.length, 2);
    assert.equal(witnessed.split('\n').filter((l) => l.startsWith('\u2014 witness.example ')).length, 1);
  });

  it('answers the spec statuses: 404, 403, 400, 409, 422', () => {
    const other = note(t, 13).replace(ORIGIN, 'other.example/log');
    assert.deepEqual(decide(body(0, [], other)), {
      kind: 'reject',
      status: 404,
      reason: 'unknown origin "other.example/log"',
    });
    const forged = decide(body(0, [], note(t, 13, LogSigningKey.generate('ed25519'))));
    assert.equal(forged.kind === 'reject' && forged.status, 403);
    const tampered = note(t, 13).replace('\n13\n', '\n14\n');
    assert.equal((decide(body(0, [], tampered)) as { status?: number }).status, 403);
    assert.equal((decide(body(20, [], note(t, 13)), stateAt(20)) as { status?: number }).status, 400);
    assert.deepEqual(decide(body(0, [], note(t, 20)), stateAt(13)), { kind: 'conflict', size: 13 });
    assert.deepEqual(decide(body(5, [], note(t, 20))), { kind: 'conflict', size: 0 });
    const nonEmpty = decide(body(0, referenceConsistency(t, 13n, 20n), note(t, 20)));
    assert.equal(nonEmpty.kind === 'reject' && nonEmpty.status, 422);
    const badProof = decide(body(13, referenceConsistency(t, 12n, 20n), note(t, 20)), stateAt(13));
    assert.equal(badProof.kind === 'reject' && badProof.status, 422);
  });

  it('refuses a fork at the cosigned size and a fork further on, as inconsistent', () => {
    const forked = tree(40, 'fork ');
    const same = decide(body(20, [], note(forked, 20)), stateAt(20));
    assert.equal(same.kind === 'reject' && same.status, 422);
    assert.equal(same.kind === 'reject' && same.inconsistent, true);
    const later = decide(body(20, referenceConsistency(forked, 20n, 30n), note(forked, 30)), stateAt(20));
    assert.equal(later.kind === 'reject' && later.inconsistent, true);
  });

  it('parses strictly', () => {
    const good = formatAddCheckpointRequest(0, [], note(t, 3));
    for (const b of [
      good.replace('old 0', 'old 00'),
      good.replace('old 0', 'old  0'),
      good.replace('old 0', 'Old 0'),
      good.replace('old 0\n', 'old 0\nAAAA\n'),
      'old 0\n',
      'old 0\n\n',
      `old 0\n${Array.from({ length: 64 }, () => Buffer.alloc(32).toString('base64')).join('\n')}\n\n${note(t, 3)}`,
    ]) {
      assert.throws(
        () => parseAddCheckpointRequest(Buffer.from(b)),
        (e) => isVellumError(e, 'INVALID_ARGUMENT'),
      );
    }
    assert.throws(
      () => parseAddCheckpointRequest(Buffer.from([0x6f, 0xff])),
      (e) => isVellumError(e),
    );
    assert.equal(parseTlogSize('42\n'), 42);
    for (const s of ['42', '042\n', '-1\n', '1e3\n', '99999999999999999999\n']) {
      assert.throws(
        () => parseTlogSize(s),
        (e) => isVellumError(e, 'INVALID_ARGUMENT'),
      );
    }
  });

  it('fuzz: any body is a VellumError or a decision, never anything else', () => {
    const good = formatAddCheckpointRequest(13, referenceConsistency(t, 13n, 20n), note(t, 20));
    const mutated = fc
      .tuple(fc.nat({ max: good.length }), fc.nat({ max: 20 }), fc.string({ maxLength: 20 }))
      .map(([at, cut, ins]) => good.slice(0, at) + ins + good.slice(at + cut));
    fc.assert(
      fc.property(
        fc.oneof(mutated, fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 })),
        (input) => {
          const bytes = typeof input === 'string' ? Buffer.from(input) : input;
          try {
            const d = decideAddCheckpoint(parseAddCheckpointRequest(bytes), findLog, () => stateAt(13));
            assert.ok(['cosign', 'conflict', 'reject'].includes(d.kind));
            if (d.kind === 'reject') assert.ok([400, 403, 404, 422].includes(d.status));
          } catch (e) {
            // Only client errors: a 400 for anything malformed, 413 for an oversized body.
            assert.ok(isVellumError(e, 'INVALID_ARGUMENT') || isVellumError(e, 'TOO_LARGE'), String(e));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
