import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashedrekord, newP256Key } from '../e2e/fixtures';
import { postJson } from '../support/server';
import { rootFromBundles } from '../support/tile-client';
import { verifyCheckpointNote } from '../support/verifier';
import { getJson, startCluster, withDeployment } from './harness';

test('postgres + Redis: an API replica (no key, no lease) serves tiles that rebuild the checkpoint root', (t) =>
  withDeployment(t, async (dep) => {
    const {
      seq,
      apis: [api],
      ctx,
    } = await startCluster(dep);
    const key = newP256Key();
    const fixtures = Array.from({ length: 270 }, () => hashedrekord(key));
    const statuses = await Promise.all(
      fixtures.map(async (f) => (await postJson(`${api!.url}/api/v1/log/entries`, f.proposed)).status),
    );
    assert.deepEqual(new Set(statuses), new Set([201]));

    const note = await (await fetch(`${api!.url}/checkpoint`)).text();
    const cp = verifyCheckpointNote(note, ctx.key, ctx.hostname);
    assert.equal(cp.size, fixtures.length);
    const { entries, root } = await rootFromBundles(api.url, cp.size);
    assert.ok(root.equals(cp.rootHash), 'root from the replica entry bundles matches its checkpoint');
    assert.equal(root.toString('hex'), (await getJson(`${api!.url}/api/v1/log`)).json.rootHash);
    assert.deepEqual(
      new Set(entries.map((e) => e.toString('hex'))),
      new Set(fixtures.map((f) => f.canonical.toString('hex'))),
    );
    // The sequencer role serves no reads.
    assert.equal((await fetch(`${seq.url}/tile/entries/000`)).status, 404);
  }));
