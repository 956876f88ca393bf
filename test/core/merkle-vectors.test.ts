/**
 * The transparency-dev/merkle probes and the RFC 6962 reference tree (shared/vectors, README §1-2).
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

import { isVellumError } from '../../src/core/errors';
import { MerkleAppender } from '../../src/core/merkle/appender';
import { EMPTY_ROOT, leafHash } from '../../src/core/merkle/hash';
import { consistencyProof, inclusionProof, rootAt } from '../../src/core/merkle/proofs';
import { MemoryTileStore } from '../../src/core/merkle/tile-store';
import { verifyConsistency, verifyInclusion } from '../../src/core/merkle/verify';
import { readVector, vectorsDir } from '../support/paths';

interface InclusionProbe {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
interface ConsistencyProbe {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}
interface ReferenceTreeVector {
  leaves: Array<{ index: number; dataHex: string; leafHashHex: string }>;
  roots: Array<{ treeSize: number; rootHex: string }>;
}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const proofOf = (p: string[] | null): Buffer[] => (p ?? []).map(b64);

function probeFiles(kind: 'inclusion' | 'consistency'): string[] {
  const root = join(vectorsDir(), 'merkle', kind);
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json')) out.push(relative(vectorsDir(), p));
    }
  };
  walk(root);
  return out;
}

/** Runs fn; returns the VellumError it threw, undefined if it returned, rethrows anything else. */
function outcome(fn: () => void): Error | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!isVellumError(e)) throw e;
    if (e.code !== 'INVALID_PROOF' && e.code !== 'INVALID_ARGUMENT') throw e;
    return e;
  }
}

describe('transparency-dev/merkle inclusion probes', () => {
  const files = probeFiles('inclusion');
  it('finds the 98 probes', () => assert.equal(files.length, 98));
  for (const file of files) {
    const probe = readVector<InclusionProbe>(file);
    it(`${file}: ${probe.desc}`, () => {
      const err = outcome(() =>
        verifyInclusion(
          b64(probe.leafHash),
          probe.leafIdx,
          probe.treeSize,
          proofOf(probe.proof),
          b64(probe.root),
        ),
      );
      assert.equal(err !== undefined, probe.wantErr, err?.message ?? 'verified');
    });
  }
});

describe('transparency-dev/merkle consistency probes', () => {
  const files = probeFiles('consistency');
  it('finds the 98 probes', () => assert.equal(files.length, 98));
  for (const file of files) {
    const probe = readVector<ConsistencyProbe>(file);
    it(`${file}: ${probe.desc}`, () => {
      const err = outcome(() =>
        verifyConsistency(probe.size1, probe.size2, proofOf(probe.proof), b64(probe.root1), b64(probe.root2)),
      );
      assert.equal(err !== undefined, probe.wantErr, err?.message ?? 'verified');
    });
  }
});

describe('RFC 6962 reference tree', () => {
  const vector = readVector<ReferenceTreeVector>('merkle-reference-tree.json');
  const rootHex = (size: number): string => vector.roots.find((r) => r.treeSize === size)!.rootHex;

  it('leaf hashes match', () => {
    for (const leaf of vector.leaves) {
      assert.equal(leafHash(Buffer.from(leaf.dataHex, 'hex')).toString('hex'), leaf.leafHashHex);
    }
  });

  it('appending the leaves one by one gives the roots for sizes 0-8, live and from tiles', async () => {
    const appender = MerkleAppender.empty();
    const store = new MemoryTileStore();
    assert.equal(appender.root().toString('hex'), rootHex(0));
    assert.equal(EMPTY_ROOT.toString('hex'), rootHex(0));
    for (const leaf of vector.leaves) {
      const result = appender.append([leafHash(Buffer.from(leaf.dataHex, 'hex'))]);
      store.write(result.tiles);
      assert.equal(result.size, leaf.index + 1);
      assert.equal(result.root.toString('hex'), rootHex(result.size));
      assert.equal(appender.root().toString('hex'), rootHex(result.size));
    }
    for (let size = 0; size <= 8; size++) {
      assert.equal((await rootAt(store, size)).toString('hex'), rootHex(size), `rootAt(${size})`);
    }
  });

  it('generated proofs equal the happy-path proofs of directories 0-4', async () => {
    const appender = MerkleAppender.empty();
    const store = new MemoryTileStore();
    store.write(appender.append(vector.leaves.map((l) => leafHash(Buffer.from(l.dataHex, 'hex')))).tiles);
    for (const dir of ['0', '1', '2', '3', '4']) {
      const inc = readVector<InclusionProbe>(`merkle/inclusion/${dir}/happy-path.json`);
      const got = await inclusionProof(store, inc.leafIdx, inc.treeSize);
      assert.deepEqual(
        got.map((h) => h.toString('base64')),
        inc.proof ?? [],
        `inclusion (${inc.leafIdx}, ${inc.treeSize})`,
      );
      assert.equal((await rootAt(store, inc.treeSize)).toString('base64'), inc.root);

      const con = readVector<ConsistencyProbe>(`merkle/consistency/${dir}/happy-path.json`);
      const gotC = await consistencyProof(store, con.size1, con.size2);
      assert.deepEqual(
        gotC.map((h) => h.toString('base64')),
        con.proof ?? [],
        `consistency (${con.size1}, ${con.size2})`,
      );
      assert.equal((await rootAt(store, con.size1)).toString('base64'), con.root1);
      assert.equal((await rootAt(store, con.size2)).toString('base64'), con.root2);
    }
  });
});
