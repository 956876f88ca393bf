/**
 * LogSigner.signBatch: SETs and checkpoints signed on the signing thread verify exactly like the
 * in-thread ones, for both key algorithms; a thread that dies fails only the batches waiting on
 * it (UNAVAILABLE), and the next batch gets a new thread.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { verifyRekorCheckpoint } from '../../src/core/checkpoint';
import { isVellumError } from '../../src/core/errors';
import { LogSigningKey } from '../../src/core/keys';
import { openNote, parseSignedNote, parseVerifierKey } from '../../src/core/note';
import { verifySet } from '../../src/core/set';
import { LogIdentity } from '../../src/modules/identity/log-identity';
import { LogSigner } from '../../src/modules/signer/log-signer';
import { SigningThread } from '../../src/modules/signer/signing-thread';
import { keysToData } from '../../src/modules/signer/batch-signing';

for (const alg of ['ecdsa-p256', 'ed25519'] as const) {
  describe(`signing thread (${alg})`, () => {
    it('signs a batch: every SET verifies at its own index, the checkpoint under both keys', async () => {
      const key = LogSigningKey.generate(alg);
      const noteKey = alg === 'ecdsa-p256' ? LogSigningKey.generate('ed25519') : undefined;
      const identity = new LogIdentity('1193046', key.publicKey, 'vellum.test', noteKey?.publicKey);
      const signer = new LogSigner(key, identity, noteKey);
      try {
        const bodies = Array.from({ length: 40 }, () => randomBytes(200));
        const root = randomBytes(32);
        const signed = await signer.signBatch({
          bodies,
          firstIndex: 1000,
          integratedTime: 1_700_000_123,
          size: 1040,
          root,
        });
        assert.equal(signed.sets.length, bodies.length);
        signed.sets.forEach((set, i) => {
          const fields = {
            body: bodies[i]!.toString('base64'),
            integratedTime: 1_700_000_123,
            logID: identity.logIdHex,
            logIndex: 1000 + i,
          };
          verifySet(key.publicKey, fields, set);
          assert.throws(
            () => verifySet(key.publicKey, { ...fields, logIndex: 1001 + i }, set),
            (e) => isVellumError(e, 'INVALID_SET'),
          );
        });
        const cp = verifyRekorCheckpoint(signed.note, key.publicKey, 'vellum.test');
        assert.equal(cp.size, 1040);
        assert.ok(cp.rootHash.equals(root));
        assert.equal(cp.origin, identity.origin);
        // Deterministic checkpoint signatures: the thread's note equals the in-thread one.
        assert.equal(signed.note, signer.signCheckpoint(1040, root));
        // Every verifier key the log publishes (Rekor-style and C2SP lines) verifies its line.
        const opened = openNote(signed.note, identity.vkeys.map(parseVerifierKey));
        assert.equal(opened.verifiedBy.length, identity.vkeys.length);
        assert.equal(opened.text, parseSignedNote(signed.note).text);
      } finally {
        await signer.onModuleDestroy();
      }
    });
  });
}

describe('signing thread failures', () => {
  it('a dead thread fails its waiting batch with UNAVAILABLE; the next batch starts a new thread', async () => {
    const key = LogSigningKey.generate('ed25519');
    const thread = new SigningThread(
      keysToData({
        key,
        origin: 'vellum.test - 1',
        hostname: 'vellum.test',
        logIdHex: key.publicKey.logIdHex,
      }),
    );
    try {
      const req = {
        bodies: [randomBytes(10)],
        firstIndex: 0,
        integratedTime: 1,
        size: 1,
        root: randomBytes(32),
      };
      assert.equal((await thread.sign(req)).sets.length, 1);
      // Kill it while a batch waits.
      const worker = (thread as unknown as { worker: { terminate(): Promise<number> } }).worker;
      const waiting = thread.sign(req);
      void worker.terminate();
      await assert.rejects(waiting, (e) => isVellumError(e, 'UNAVAILABLE'));
      const again = await thread.sign(req);
      assert.equal(again.sets.length, 1);
    } finally {
      await thread.close();
    }
    await assert.rejects(
      thread.sign({ bodies: [], firstIndex: 0, integratedTime: 1, size: 0, root: randomBytes(32) }),
      (e) => isVellumError(e, 'UNAVAILABLE'),
    );
  });
});
