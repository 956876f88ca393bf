/**
 * ROLE=witness as a real process: a log written here from the RFC 6962 reference tree asks it
 * to cosign; the witness's state survives a restart; a forked view is refused and recorded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCheckpoint } from '../../../src/core/checkpoint';
import { LogSigningKey } from '../../../src/core/keys';
import {
  ed25519NoteSigner,
  formatVerifierKey,
  NOTE_KEY_TYPE,
  openNote,
  parseVerifierKey,
  signNote,
} from '../../../src/core/note';
import {
  formatAddCheckpointRequest,
  verifyCosignatureResponse,
} from '../../../src/core/witness/cosign-request';
import { spawnServe, type ServeProcess } from '../../../src/bench/server-process';
import { ListTree, referenceConsistency, referenceRoot, refLeafHash } from '../../support/reference-merkle';
import { freePort, testServerEnv } from '../../support/server';
import { tcpReachable } from '../../support/services';
import { postgresDb, sqliteDb, type TestDb } from '../storage-harness';

const ORIGIN = 'example.com/witnessed-log';
const logKey = LogSigningKey.generate('ed25519');
const logVkey = formatVerifierKey(ORIGIN, NOTE_KEY_TYPE.ed25519, logKey.publicKey.raw);

function tree(n: number, salt: string): ListTree {
  const t = new ListTree();
  t.add(Array.from({ length: n }, (_, i) => refLeafHash(Buffer.from(`${salt} ${i}`))));
  return t;
}

function checkpoint(t: ListTree, size: number): { text: string; note: string } {
  const text = formatCheckpoint({
    origin: ORIGIN,
    size,
    rootHash: referenceRoot(t, BigInt(size)),
    extensions: [],
  });
  return { text, note: signNote(text, [ed25519NoteSigner(ORIGIN, logKey)]) };
}

for (const [kind, open] of [
  ['SQLite', sqliteDb],
  ['PostgreSQL', postgresDb],
] as const) {
  describe(`ROLE=witness process on ${kind}`, () => {
    let db: TestDb | undefined;
    let port = 0;
    let proc: ServeProcess;
    let url = '';
    const log = tree(300, 'entry');
    const fork = tree(300, 'forked entry');

    async function start(): Promise<void> {
      proc = await spawnServe({
        name: 'witness',
        env: testServerEnv(db!.dataDir, port, {
          ...db!.env,
          ROLE: 'witness',
          WITNESS_NAME: 'witness.test',
          WITNESS_LOGS: `${logVkey}`,
        }),
      });
      url = proc.url;
    }

    async function add(old: number, t: ListTree, size: number, proofFrom = old): Promise<Response> {
      const proof = old === 0 || old >= size ? [] : referenceConsistency(t, BigInt(proofFrom), BigInt(size));
      return fetch(`${url}/add-checkpoint`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: formatAddCheckpointRequest(old, proof, checkpoint(t, size).note),
      });
    }

    before(async () => {
      // The witness's state must hold on both databases: no silent skip.
      if (kind === 'PostgreSQL' && !(await tcpReachable(5432))) {
        throw new Error('PostgreSQL on 127.0.0.1:5432 unreachable');
      }
      db = await open();
      port = await freePort();
      await start();
    });
    after(async () => {
      await proc?.stop();
      await db?.cleanup();
    });

    it('cosigns from old 0, answers 409 with its size, and cosigns a consistent growth', async () => {
      const vkey = (await (await fetch(`${url}/witness/vkey`)).text()).trim();
      assert.match(proc.output(), new RegExp(`witness vkey ${vkey.replace(/[+]/g, '\\+')}`));
      const witness = parseVerifierKey(vkey);
      const first = await add(0, log, 100);
      assert.equal(first.status, 200);
      verifyCosignatureResponse(checkpoint(log, 100).text, await first.text(), witness);

      const stale = await add(0, log, 200);
      assert.equal(stale.status, 409);
      assert.equal(stale.headers.get('content-type'), 'text/x.tlog.size');
      assert.equal(await stale.text(), '100\n');

      const grown = await add(100, log, 200);
      assert.equal(grown.status, 200);
      const lines = await grown.text();
      const cp = checkpoint(log, 200);
      const opened = openNote(cp.note + lines, [parseVerifierKey(logVkey), witness]);
      assert.equal(opened.verifiedBy.length, 2);
    });

    it('lets exactly one of two concurrent consistent requests win', async () => {
      const [a, b] = await Promise.all([add(200, log, 250), add(200, log, 260)]);
      assert.deepEqual([a.status, b.status].sort(), [200, 409]);
    });

    it('refuses a fork at the cosigned size and a rollback, and counts the fork', async () => {
      const sizeNow = Number((await (await add(0, log, 1)).text()).trim());
      const forked = await add(sizeNow, fork, sizeNow);
      assert.equal(forked.status, 422);
      assert.match(await forked.text(), /fork/);
      const rollback = await add(sizeNow, log, 10);
      assert.equal(rollback.status, 400);
      const unknown = await fetch(`${url}/add-checkpoint`, {
        method: 'POST',
        body: formatAddCheckpointRequest(
          0,
          [],
          checkpoint(log, 5).note.replaceAll(ORIGIN, 'other.example/log'),
        ),
      });
      assert.equal(unknown.status, 404);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /vellum_witness_add_checkpoint_total\{result="inconsistent"\} 1/);
      assert.match(proc.output(), /log\.inconsistent at example\.com\/witnessed-log/);
    });

    it('keeps its state across a restart', async () => {
      const before = Number((await (await add(0, log, 1)).text()).trim());
      assert.ok(before >= 250);
      await proc.stop();
      await start();
      const after = await add(0, log, 290);
      assert.equal(after.status, 409);
      assert.equal(Number((await after.text()).trim()), before);
      assert.equal((await add(before, log, 290)).status, 200);
    });
  });
}
