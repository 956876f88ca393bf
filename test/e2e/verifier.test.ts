import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readVector, vectorsDir } from '../support/paths';
import {
  logKeyFromPem,
  verifyConsistency,
  verifyInclusion,
  verifyLogEntry,
  VerifyError,
} from '../support/verifier';

/**
 * The e2e tests trust test/support/verifier.ts to reject bad responses; here it is held to real
 * production Rekor entries and to the transparency-dev proof probes, and must fail on mutations.
 */
describe('the independent test verifier', () => {
  const prod = readVector<any>('rekor-production.json');
  const key = logKeyFromPem(prod.log.publicKeyPem);

  test('accepts every complete production entry and rejects one-byte mutations', () => {
    for (const e of prod.entries) {
      const ctx = { key, hostname: prod.log.checkpointSignerName, treeId: e.treeId };
      const opts = { nowSec: e.integratedTime, sharded: true };
      verifyLogEntry(e.logEntry, ctx, opts);
      const id = Object.keys(e.logEntry)[0];
      const mutations: ((v: any) => void)[] = [
        (v) => (v.integratedTime += 1),
        (v) => (v.logIndex += 1),
        (v) => (v.verification.inclusionProof.hashes[0] = '00'.repeat(32)),
        (v) => (v.verification.inclusionProof.rootHash = '00'.repeat(32)),
        (v) =>
          (v.verification.inclusionProof.checkpoint = v.verification.inclusionProof.checkpoint.replace(
            '\u2014',
            '-',
          )),
        (v) => {
          const b = Buffer.from(v.body, 'base64');
          b[10] ^= 1;
          v.body = b.toString('base64');
        },
      ];
      for (const m of mutations) {
        const doc = JSON.parse(JSON.stringify(e.logEntry));
        m(doc[id]);
        assert.throws(() => verifyLogEntry(doc, ctx, opts), VerifyError);
      }
      assert.throws(
        () => verifyLogEntry(e.logEntry, { ...ctx, hostname: 'other.example' }, opts),
        VerifyError,
      );
    }
  });

  test('agrees with every transparency-dev inclusion and consistency probe', () => {
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((n) =>
        statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : n.endsWith('.json') ? [join(d, n)] : [],
      );
    const b = (s: string) => Buffer.from(s, 'base64');
    let n = 0;
    for (const f of walk(join(vectorsDir(), 'merkle', 'inclusion'))) {
      const p = JSON.parse(readFileSync(f, 'utf8'));
      const run = () => {
        const leaf = b(p.leafHash);
        if (leaf.length !== 32) throw new VerifyError('leaf hash length');
        verifyInclusion(leaf, p.leafIdx, p.treeSize, (p.proof ?? []).map(b), b(p.root));
      };
      if (p.wantErr) assert.throws(run, `${f}`);
      else assert.doesNotThrow(run, `${f}`);
      n++;
    }
    for (const f of walk(join(vectorsDir(), 'merkle', 'consistency'))) {
      const p = JSON.parse(readFileSync(f, 'utf8'));
      const run = () => verifyConsistency(p.size1, p.size2, (p.proof ?? []).map(b), b(p.root1), b(p.root2));
      if (p.wantErr) assert.throws(run, `${f}`);
      else assert.doesNotThrow(run, `${f}`);
      n++;
    }
    assert.equal(n, 196);
  });
});
