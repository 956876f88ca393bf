import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LogSigningKey } from '../../src/core/keys';
import { EntryViews } from '../../src/modules/entries/entry-views';
import { LogIdentity } from '../../src/modules/identity/log-identity';
import type { LogReader } from '../../src/modules/log/log-reader.service';

test('mapJson writes exactly JSON.stringify(map) and its entry id, whatever the note holds', () => {
  const identity = new LogIdentity('1193046', LogSigningKey.generate('ed25519').publicKey, 'vellum.test');
  // Building a submission's answer reads no stored data: the reader is never called.
  const views = new EntryViews(identity, undefined as unknown as LogReader);
  const bytes = (min: number, max: number) =>
    fc.uint8Array({ minLength: min, maxLength: max }).map((u) => Buffer.from(u));
  const entry = fc.record({
    index: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    leafHash: bytes(32, 32),
    body: bytes(0, 600),
    kind: fc.constant('hashedrekord'),
    apiVersion: fc.constant('0.0.1'),
    integratedTime: fc.nat({ max: 2 ** 40 }),
    set: bytes(0, 80),
  });
  // Notes with quotes, backslashes, control characters, line separators and lone surrogates;
  // few distinct ones, so consecutive answers both share and change the escaped note.
  const note = fc.oneof(
    fc.constantFrom('origin\n42\nroot=\n\n— sig\n', 'a"b\\c\u2028\u0000\ud800'),
    fc.string({ unit: 'binary', maxLength: 200 }),
  );
  const checkpoint = fc.record({
    size: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    rootHash: bytes(32, 32),
    note,
  });
  fc.assert(
    fc.property(
      fc.array(checkpoint, { minLength: 1, maxLength: 3 }),
      fc.array(fc.tuple(entry, fc.nat(), fc.array(bytes(32, 32), { maxLength: 40 })), {
        minLength: 1,
        maxLength: 8,
      }),
      (checkpoints, cases) => {
        // Answers of one batch share one checkpoint object; consecutive batches switch it.
        for (const [e, pick, proof] of cases) {
          const cp = checkpoints[pick % checkpoints.length]!;
          const map = views.map(e, cp, proof);
          const { entryId, json } = views.mapJson(e, cp, proof);
          assert.equal(json, JSON.stringify(map));
          assert.deepEqual([entryId], Object.keys(map));
        }
      },
    ),
    { numRuns: 300 },
  );
});
