import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LogPublicKey } from '../../src/core/keys';
import { setPayload, verifySet, type SetFields } from '../../src/core/set';
import {
  formatCheckpoint,
  parseCheckpoint,
  rekorOrigin,
  verifyRekorCheckpoint,
} from '../../src/core/checkpoint';
import {
  formatSignedNote,
  openNote,
  parseSignedNote,
  parseVerifierKey,
  rekorKeyId,
} from '../../src/core/note';
import { canonicalize } from '../../src/core/jcs';
import { verifyInclusion } from '../../src/core/merkle/verify';
import { createHash } from 'node:crypto';
import { isVellumError } from '../../src/core/errors';
import type { LogEntryValue } from '../../src/modules/entries/entry-views';
import { readVector } from '../support/paths';

interface Entry {
  name: string;
  leafHash: string;
  treeId: string;
  logIndex: number;
  shardLogIndex: number;
  integratedTime: number;
  setPayload: string | null;
  checkpoint: {
    envelope: string;
    signedText: string;
    origin: string;
    treeSize: number;
    rootHashBase64: string;
    rootHashHex: string;
    signatureName: string;
    keyHintHex: string;
    signatureDerBase64: string;
  };
  logEntry: Record<string, LogEntryValue>;
}
interface Vectors {
  log: {
    publicKeyPem: string;
    logIdHex: string;
    checkpointKeyHintHex: string;
    checkpointSignerName: string;
    baseUrl: string;
  };
  trustedRoot: { tlog: { publicKey: { rawBytes: string }; logId: { keyId: string } } };
  entries: Entry[];
  proofOnlyEntries: Entry[];
}

const v = readVector<Vectors>('rekor-production.json');
const key = LogPublicKey.fromPem(v.log.publicKeyPem);
const NAME = v.log.checkpointSignerName;
const invalidSet = (e: unknown) => isVellumError(e, 'INVALID_SET');
const invalidNote = (e: unknown) => isVellumError(e, 'INVALID_NOTE');
const value = (e: Entry) => Object.values(e.logEntry)[0]!;
const fieldsOf = (e: Entry): SetFields => {
  const le = value(e);
  return { body: le.body, integratedTime: le.integratedTime, logID: le.logID, logIndex: le.logIndex };
};

describe('production Rekor v1 vectors', () => {
  it('the trusted-root key is the log key: logID, key hint', () => {
    assert.equal(v.entries.length, 3);
    const fromRoot = LogPublicKey.fromDer(Buffer.from(v.trustedRoot.tlog.publicKey.rawBytes, 'base64'));
    assert.equal(fromRoot.logId.toString('base64'), v.trustedRoot.tlog.logId.keyId);
    assert.equal(fromRoot.logIdHex, v.log.logIdHex);
    assert.equal(rekorKeyId(key.der).toString(16).padStart(8, '0'), v.log.checkpointKeyHintHex);
    assert.ok(v.log.baseUrl.includes(NAME)); // sigstore-js's name check
  });

  for (const e of v.entries) {
    describe(e.name, () => {
      it('setPayload reproduces the signed bytes exactly', () => {
        assert.equal(setPayload(fieldsOf(e)).toString('utf8'), e.setPayload);
        // The same bytes as a plain JCS of the four fields.
        assert.equal(canonicalize({ ...fieldsOf(e) }), e.setPayload);
        assert.equal(fieldsOf(e).logIndex, e.logIndex);
        assert.notEqual(e.logIndex, e.shardLogIndex);
      });

      it('SET verifies over the virtual index, not the shard index, and not over a changed body', () => {
        const f = fieldsOf(e);
        const sig = Buffer.from(value(e).verification.signedEntryTimestamp!, 'base64');
        verifySet(key, f, sig);
        assert.throws(() => verifySet(key, { ...f, logIndex: e.shardLogIndex }, sig), invalidSet);
        const body = Buffer.from(f.body, 'base64');
        for (const i of [0, body.length >> 1, body.length - 1]) {
          const b = Buffer.from(body);
          b[i] ^= 0x01;
          assert.throws(() => verifySet(key, { ...f, body: b.toString('base64') }, sig), invalidSet);
        }
        assert.throws(() => verifySet(key, { ...f, integratedTime: f.integratedTime + 1 }, sig), invalidSet);
        const s2 = Buffer.from(sig);
        s2[s2.length - 1] ^= 0x01;
        assert.throws(() => verifySet(key, f, s2), invalidSet);
      });

      it('checkpoint verifies (name and hint c0d23d6a) and matches the inclusion proof', () => {
        const c = e.checkpoint;
        assert.equal(value(e).verification.inclusionProof.checkpoint, c.envelope);
        const cp = verifyRekorCheckpoint(c.envelope, key, NAME);
        assert.equal(cp.origin, c.origin);
        assert.equal(cp.origin, rekorOrigin(NAME, e.treeId));
        assert.equal(cp.size, c.treeSize);
        assert.equal(cp.rootHash.toString('hex'), c.rootHashHex);
        assert.equal(cp.size, value(e).verification.inclusionProof.treeSize);
        assert.equal(cp.rootHash.toString('hex'), value(e).verification.inclusionProof.rootHash);
        assert.deepEqual(verifyRekorCheckpoint(c.envelope, key), cp);
        const sig = parseSignedNote(c.envelope).signatures;
        assert.equal(sig.length, 1);
        assert.equal(sig[0]!.name, c.signatureName);
        assert.equal(sig[0]!.keyId.toString(16).padStart(8, '0'), c.keyHintHex);
        assert.equal(sig[0]!.signature.toString('base64'), c.signatureDerBase64);
      });

      it('tampered checkpoints fail', () => {
        const c = e.checkpoint;
        const sizeLine = `\n${c.treeSize}\n`;
        const sig = parseSignedNote(c.envelope).signatures[0]!;
        const flipped = Buffer.from(sig.signature);
        flipped[20] ^= 0x01;
        const cases = [
          c.envelope.replace(sizeLine, `\n${c.treeSize + 1}\n`),
          c.envelope.replace(
            c.rootHashBase64,
            Buffer.from(
              c.rootHashHex.replace(/^./, (x) => (x === '0' ? '1' : '0')),
              'hex',
            ).toString('base64'),
          ),
          c.envelope.replace(c.origin, c.origin.replace(e.treeId, '1')),
          formatSignedNote({ text: c.signedText, signatures: [{ ...sig, signature: flipped }] }),
          formatSignedNote({ text: c.signedText, signatures: [{ ...sig, keyId: (sig.keyId ^ 1) >>> 0 }] }),
          c.envelope.replace(/\n$/, ''),
          c.signedText + '\n' + c.envelope.slice(c.signedText.length), // blank line inside the signed text
        ];
        for (const bad of cases) assert.throws(() => verifyRekorCheckpoint(bad, key, NAME), invalidNote, bad);
        assert.throws(() => verifyRekorCheckpoint(c.envelope, key, 'rekor.sigstage.dev'), invalidNote);
      });

      it('checkpoint text and note round-trip through parse/format (old Timestamp: lines kept)', () => {
        const c = e.checkpoint;
        const cp = parseCheckpoint(c.signedText);
        assert.equal(formatCheckpoint(cp), c.signedText);
        assert.equal(formatSignedNote(parseSignedNote(c.envelope)), c.envelope);
        assert.equal(cp.extensions.length, c.signedText.includes('Timestamp: ') ? 1 : 0);
      });
    });
  }

  it('inclusion proofs lead from SHA-256(0x00 ‖ body) at the shard index to the verified checkpoint root', () => {
    for (const e of [...v.entries, ...v.proofOnlyEntries]) {
      const le = value(e);
      const leaf = createHash('sha256')
        .update(Buffer.from([0]))
        .update(Buffer.from(le.body, 'base64'))
        .digest();
      assert.equal(leaf.toString('hex'), e.leafHash);
      const cp = verifyRekorCheckpoint(e.checkpoint.envelope, key, NAME);
      const proof = le.verification.inclusionProof.hashes.map((h) => Buffer.from(h, 'hex'));
      assert.equal(le.verification.inclusionProof.logIndex, e.shardLogIndex);
      verifyInclusion(leaf, e.shardLogIndex, cp.size, proof, cp.rootHash);
      const invalidProof = (x: unknown) => isVellumError(x, 'INVALID_PROOF');
      // The virtual index is past the shard's size (an argument error); a neighbour index is in range.
      assert.throws(
        () => verifyInclusion(leaf, e.logIndex, cp.size, proof, cp.rootHash),
        (x) => isVellumError(x),
      );
      assert.throws(
        () => verifyInclusion(leaf, e.shardLogIndex - 1, cp.size, proof, cp.rootHash),
        invalidProof,
      );
      const bad = proof.map((h) => Buffer.from(h));
      bad[bad.length >> 1]![0] ^= 0x01;
      assert.throws(() => verifyInclusion(leaf, e.shardLogIndex, cp.size, bad, cp.rootHash), invalidProof);
    }
  });

  it('proof-only entry (second shard, no SET): checkpoint verifies and matches', () => {
    for (const e of v.proofOnlyEntries) {
      assert.equal(e.setPayload, null);
      assert.equal(value(e).verification.signedEntryTimestamp, undefined);
      const cp = verifyRekorCheckpoint(e.checkpoint.envelope, key, NAME);
      assert.equal(cp.origin, rekorOrigin(NAME, e.treeId));
      assert.equal(cp.size, e.checkpoint.treeSize);
      assert.equal(cp.rootHash.toString('base64'), e.checkpoint.rootHashBase64);
    }
  });

  it('the production checkpoint is an ordinary C2SP 0x02 note under the omniwitness vkey', () => {
    const ex = readVector<{ examples: Array<{ name: string; vkey: string }> }>(
      'c2sp-notes.json',
    ).examples.find((x) => x.name === 'rekor-v1-checkpoint-as-ecdsa-note')!;
    const verifier = parseVerifierKey(ex.vkey);
    assert.deepEqual(verifier.publicKey, key.der);
    for (const e of [...v.entries, ...v.proofOnlyEntries]) {
      assert.equal(openNote(e.checkpoint.envelope, [verifier]).text, e.checkpoint.signedText);
    }
  });
});
