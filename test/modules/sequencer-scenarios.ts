/**
 * Write-path scenarios, run against SQLite (sequencer.test.ts) and PostgreSQL
 * (sequencer-postgres.test.ts): each takes a fresh TestDb and drives the real modules.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { verifyRekorCheckpoint } from '../../src/core/checkpoint';
import { VellumError, isVellumError } from '../../src/core/errors';
import { EMPTY_ROOT } from '../../src/core/merkle/hash';
import { verifyConsistency, verifyInclusion } from '../../src/core/merkle/verify';
import { verifySet } from '../../src/core/set';
import type { AcceptedEntry, PreparedEntry, SignedCheckpoint } from '../../src/modules/log/log.types';
import { LogReader } from '../../src/modules/log/log-reader.service';
import type { SequencerOptions } from '../../src/modules/sequencer/sequencer.options';
import { LogIdentity } from '../../src/modules/identity/log-identity';
import { WRITE_PATH, type WritePath } from '../../src/modules/write-path/write-path';
import { type Booted, type TestDb, boot, makeEntry, testConfig } from './storage-harness';

interface Ctx {
  readonly booted: Booted;
  readonly writer: WritePath;
  readonly reader: LogReader;
  readonly identity: LogIdentity;
}

export async function start(
  db: TestDb,
  env: Record<string, string> = {},
  sequencer: SequencerOptions = {},
): Promise<Ctx> {
  const booted = await boot(testConfig(db, env), { sequencer });
  return {
    booted,
    writer: booted.app.get<WritePath>(WRITE_PATH),
    reader: booted.app.get(LogReader),
    identity: booted.app.get(LogIdentity),
  };
}

export async function rejection(p: Promise<unknown>): Promise<VellumError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof VellumError, `expected a VellumError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

/** Checks everything a submitter relies on: checkpoint signature, proof, SET, entry fields. */
export function checkAccepted(ctx: Ctx, prepared: PreparedEntry, a: AcceptedEntry): void {
  const pub = ctx.identity.publicKey;
  const cp = verifyRekorCheckpoint(a.checkpoint.note, pub, 'vellum.test');
  assert.equal(cp.origin, ctx.identity.origin);
  assert.equal(cp.size, a.checkpoint.size);
  assert.ok(cp.rootHash.equals(a.checkpoint.rootHash));
  assert.ok(a.entry.leafHash.equals(prepared.leafHash));
  assert.ok(a.entry.body.equals(prepared.body));
  assert.ok(a.entry.index < a.checkpoint.size);
  verifyInclusion(
    prepared.leafHash,
    a.entry.index,
    a.checkpoint.size,
    a.inclusionProof,
    a.checkpoint.rootHash,
  );
  verifySet(
    pub,
    {
      body: prepared.body.toString('base64'),
      integratedTime: a.entry.integratedTime,
      logID: ctx.identity.logIdHex,
      logIndex: a.entry.index,
    },
    a.entry.set,
  );
}

export async function checkConsistency(
  reader: LogReader,
  older: SignedCheckpoint,
  newer: SignedCheckpoint,
): Promise<void> {
  if (older.size === 0) return;
  const proof = await reader.consistencyProof(older.size, newer.size);
  verifyConsistency(older.size, newer.size, proof, older.rootHash, newer.rootHash);
}

/** n concurrent submissions: all accepted, indices exactly from..from+n-1, everything verifies. */
async function submitMany(
  ctx: Ctx,
  n: number,
): Promise<{ entries: PreparedEntry[]; accepted: AcceptedEntry[]; ms: number }> {
  const entries = Array.from({ length: n }, () => makeEntry());
  const t0 = performance.now();
  const accepted = await Promise.all(entries.map((e) => ctx.writer.submit(e)));
  const ms = performance.now() - t0;
  accepted.forEach((a, i) => checkAccepted(ctx, entries[i]!, a));
  return { entries, accepted, ms };
}

function checkpointsOf(accepted: readonly AcceptedEntry[]): SignedCheckpoint[] {
  const bySize = new Map<number, SignedCheckpoint>();
  for (const a of accepted) bySize.set(a.checkpoint.size, a.checkpoint);
  return [...bySize.values()].sort((x, y) => x.size - y.size);
}

export async function scenarioConcurrentSubmissions(db: TestDb, n = 3000): Promise<{ perSecond: number }> {
  const ctx = await start(db, { BATCH_MAX_SIZE: '1024', BATCH_MAX_AGE_MS: '20' });
  try {
    const empty = await ctx.reader.latestCheckpoint();
    assert.equal(empty.size, 0);
    assert.ok(empty.rootHash.equals(EMPTY_ROOT));
    verifyRekorCheckpoint(empty.note, ctx.identity.publicKey, 'vellum.test');

    const { entries, accepted, ms } = await submitMany(ctx, n);
    const indices = accepted.map((a) => a.entry.index).sort((x, y) => x - y);
    assert.deepEqual(
      indices,
      Array.from({ length: n }, (_, i) => i),
      'indices are 0..n-1, no gaps, no duplicates',
    );

    const latest = await ctx.reader.latestCheckpoint();
    assert.equal(latest.size, n);
    const cps = checkpointsOf(accepted);
    assert.ok(cps.length >= 2, `expected several batches, got ${cps.length}`);
    assert.equal(cps.at(-1)!.size, n);
    // Consistency between every recorded checkpoint and the next, and from each to the latest.
    for (let i = 0; i + 1 < cps.length; i++) await checkConsistency(ctx.reader, cps[i]!, cps[i + 1]!);
    for (const cp of cps) await checkConsistency(ctx.reader, cp, latest);

    // Reader: entries by index and by hash equal what the submitter got; old-size proofs verify.
    for (const i of [0, 1, 255, 256, n - 1]) {
      const a = accepted.find((x) => x.entry.index === i)!;
      const byIndex = await ctx.reader.getByIndex(i);
      assert.deepEqual(byIndex, a.entry);
      assert.deepEqual(await ctx.reader.getByLeafHash(a.entry.leafHash), a.entry);
      const proof = await ctx.reader.inclusionProof(i, a.checkpoint.size);
      verifyInclusion(a.entry.leafHash, i, a.checkpoint.size, proof, a.checkpoint.rootHash);
      const now = await ctx.reader.inclusionProof(i, n);
      verifyInclusion(a.entry.leafHash, i, n, now, latest.rootHash);
    }
    assert.equal(await ctx.reader.getByIndex(n), null);
    await assert.rejects(ctx.reader.inclusionProof(0, n + 1), (e) => isVellumError(e, 'INVALID_ARGUMENT'));

    // Search index: the per-entry key finds exactly that entry; the shared key finds all.
    const key0 = entries[7]!.indexKeys[0]!;
    const hit = await ctx.reader.search([key0], 'or');
    assert.deepEqual(hit, [entries[7]!.leafHash]);
    assert.deepEqual(await ctx.reader.search([key0, 'someone@example.com'], 'and'), [entries[7]!.leafHash]);
    assert.equal((await ctx.reader.search(['someone@example.com'], 'or')).length, n);
    assert.deepEqual(await ctx.reader.search([key0, entries[8]!.indexKeys[0]!], 'and'), []);

    // Tiles: full level-0 tile 0 holds leaves 0..255; the partial edge tile has width n % 256.
    const tile0 = await ctx.reader.getTile(0, 0, 256);
    assert.ok(tile0 !== null && tile0.length === 256 * 32);
    assert.ok(tile0.subarray(0, 32).equals(accepted.find((a) => a.entry.index === 0)!.entry.leafHash));
    const edge = Math.floor(n / 256);
    const w = n % 256;
    if (w > 0) {
      assert.equal((await ctx.reader.getTile(0, edge, w))?.length, w * 32);
      assert.equal(await ctx.reader.getTile(0, edge, 256), null);
    }
    assert.equal(await ctx.reader.getTile(0, edge + 1, 1), null);

    // Duplicates: an already-stored entry, and two copies inside one batch.
    const stored = await rejection(ctx.writer.submit(entries[42]!));
    assert.equal(stored.code, 'DUPLICATE_ENTRY');
    const first = accepted.find((a) => a.entry.leafHash.equals(entries[42]!.leafHash))!;
    assert.deepEqual(stored.details, {
      entryId: ctx.identity.entryId(entries[42]!.leafHash),
      index: first.entry.index,
    });
    assert.match(stored.message, new RegExp(ctx.identity.entryId(entries[42]!.leafHash)));

    const twin = makeEntry();
    // Submitted in one tick, so the three land in one batch.
    const settled = await Promise.allSettled([
      ctx.writer.submit(twin),
      ctx.writer.submit(makeEntry()),
      ctx.writer.submit(twin),
    ]);
    const r1 = settled[0]!;
    const r2 = settled[2]!;
    assert.equal(settled[1]!.status, 'fulfilled');
    assert.equal(
      (settled[0] as PromiseFulfilledResult<AcceptedEntry>).value.checkpoint.size,
      (settled[1] as PromiseFulfilledResult<AcceptedEntry>).value.checkpoint.size,
      'same batch',
    );
    assert.equal(r1.status, 'fulfilled');
    assert.equal(r2.status, 'rejected');
    const acceptedTwin = (r1 as PromiseFulfilledResult<AcceptedEntry>).value;
    const dupErr = (r2 as PromiseRejectedResult).reason as VellumError;
    assert.equal(dupErr.code, 'DUPLICATE_ENTRY');
    assert.deepEqual(dupErr.details, {
      entryId: ctx.identity.entryId(twin.leafHash),
      index: acceptedTwin.entry.index,
    });
    assert.equal((await ctx.reader.latestCheckpoint()).size, n + 2);
    assert.equal(ctx.writer.pendingCount(), 0);
    return { perSecond: (n / ms) * 1000 };
  } finally {
    await ctx.booted.app.close();
  }
}

export async function scenarioRestart(db: TestDb): Promise<void> {
  const a = await start(db);
  let before: SignedCheckpoint;
  let ids: { treeId: string; logId: string };
  try {
    const { accepted } = await submitMany(a, 300);
    before = await a.reader.latestCheckpoint();
    assert.equal(before.size, 300);
    assert.ok(checkpointsOf(accepted).length >= 1);
    ids = { treeId: a.identity.treeId, logId: a.identity.logIdHex };
  } finally {
    await a.booted.app.close();
  }

  const b = await start(db);
  try {
    assert.equal(b.identity.treeId, ids.treeId, 'tree id persisted');
    assert.equal(b.identity.logIdHex, ids.logId, 'same key reloaded');
    const reopened = await b.reader.latestCheckpoint();
    assert.equal(reopened.size, 300);
    assert.equal(reopened.note, before.note);
    const { accepted } = await submitMany(b, 300);
    assert.deepEqual(
      accepted.map((x) => x.entry.index).sort((x, y) => x - y),
      Array.from({ length: 300 }, (_, i) => 300 + i),
    );
    const after = await b.reader.latestCheckpoint();
    assert.equal(after.size, 600);
    await checkConsistency(b.reader, before, after);
    for (const cp of checkpointsOf(accepted)) await checkConsistency(b.reader, before, cp);
  } finally {
    await b.booted.app.close();
  }
}

export async function scenarioFailedBatch(db: TestDb): Promise<void> {
  const options: { beforeCommit?: SequencerOptions['beforeCommit'] } = {};
  const ctx = await start(
    db,
    {},
    {
      beforeCommit: (b) => options.beforeCommit?.(b),
    },
  );
  try {
    const { accepted } = await submitMany(ctx, 100);
    const before = await ctx.reader.latestCheckpoint();
    assert.equal(before.size, 100);

    let calls = 0;
    options.beforeCommit = () => {
      calls++;
      throw new Error('injected failure after all rows were written');
    };
    const doomed = Array.from({ length: 20 }, () => makeEntry());
    const results = await Promise.allSettled(doomed.map((e) => ctx.writer.submit(e)));
    assert.ok(calls >= 1, 'the hook ran');
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal(((r as PromiseRejectedResult).reason as VellumError).code, 'UNAVAILABLE');
    }
    // Database unchanged: no checkpoint, entry, index key or tile from the failed batch.
    const same = await ctx.reader.latestCheckpoint();
    assert.equal(same.size, 100);
    assert.equal(same.note, before.note);
    assert.equal(await ctx.reader.getByIndex(100), null);
    for (const e of doomed) assert.equal(await ctx.reader.getByLeafHash(e.leafHash), null);
    assert.deepEqual(await ctx.reader.search([doomed[0]!.indexKeys[0]!], 'or'), []);
    assert.equal(await ctx.reader.getTile(0, 0, 101), null);
    const rows = await db.exec('SELECT COUNT(*) AS n FROM checkpoints WHERE size > ?', [100]);
    assert.equal(Number(rows[0]!.n), 0);

    // In-memory tree unchanged: the next batch continues at 100 with proofs against a root
    // consistent with the pre-failure checkpoint, and the failed entries can be resubmitted.
    options.beforeCommit = undefined;
    const retried = await Promise.all(doomed.map((e) => ctx.writer.submit(e)));
    assert.deepEqual(
      retried.map((r) => r.entry.index).sort((x, y) => x - y),
      Array.from({ length: 20 }, (_, i) => 100 + i),
    );
    retried.forEach((r, i) => checkAccepted(ctx, doomed[i]!, r));
    const after = await ctx.reader.latestCheckpoint();
    await checkConsistency(ctx.reader, before, after);
    await checkConsistency(ctx.reader, accepted[0]!.checkpoint, after);
  } finally {
    await ctx.booted.app.close();
  }
}

export async function scenarioStolenLease(db: TestDb): Promise<void> {
  const ctx = await start(db);
  try {
    await submitMany(ctx, 10);
    const before = await ctx.reader.latestCheckpoint();
    // Another sequencer takes over: new holder, token moved, valid for a long time.
    await db.exec(
      "UPDATE sequencer_lease SET holder = 'thief', token = token + 1, expires_at = ? WHERE name = 'sequencer'",
      [Date.now() + 3_600_000],
    );
    const e = makeEntry();
    const err = await rejection(ctx.writer.submit(e));
    assert.equal(err.code, 'UNAVAILABLE');
    assert.match(err.message, /lease/);
    assert.equal((await ctx.reader.latestCheckpoint()).size, before.size);
    assert.equal(await ctx.reader.getByLeafHash(e.leafHash), null);
    // While the thief's lease is valid this sequencer stays out.
    assert.equal((await rejection(ctx.writer.submit(makeEntry()))).code, 'UNAVAILABLE');
    // The thief goes away (its lease expires): this sequencer re-acquires and continues.
    await db.exec("UPDATE sequencer_lease SET expires_at = 0 WHERE name = 'sequencer'");
    const ok = await ctx.writer.submit(e);
    assert.equal(ok.entry.index, before.size);
    checkAccepted(ctx, e, ok);
    const lease = await db.exec("SELECT holder, token FROM sequencer_lease WHERE name = 'sequencer'");
    assert.notEqual(lease[0]!.holder, 'thief');
  } finally {
    await ctx.booted.app.close();
  }
}

export async function scenarioPushback(db: TestDb): Promise<void> {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let hold = true;
  const ctx = await start(
    db,
    { MAX_PENDING: '5', BATCH_MAX_SIZE: '2', BATCH_MAX_AGE_MS: '1' },
    {
      beforeCommit: () => (hold ? gate : undefined),
      now: () => 1_700_000_000_999,
    },
  );
  try {
    const waiting = Array.from({ length: 5 }, () => ctx.writer.submit(makeEntry()));
    assert.equal(ctx.writer.pendingCount(), 5);
    const err = await rejection(ctx.writer.submit(makeEntry()));
    assert.equal(err.code, 'PUSHBACK');
    hold = false;
    release();
    const done = await Promise.all(waiting);
    assert.equal(done.length, 5);
    for (const d of done)
      assert.equal(d.entry.integratedTime, 1_700_000_000, 'integratedTime from the injected clock');
    assert.equal(ctx.writer.pendingCount(), 0);
    await ctx.writer.submit(makeEntry());
  } finally {
    release();
    await ctx.booted.app.close();
  }
}

/** A corrupted right-edge tile: the sequencer must refuse to start, naming the problem. */
export async function scenarioRefusesInconsistentTiles(db: TestDb): Promise<void> {
  const ctx = await start(db);
  try {
    await submitMany(ctx, 300);
  } finally {
    await ctx.booted.app.close();
  }
  const rows = await db.exec('SELECT nodes FROM tiles WHERE level = 0 AND idx = 1');
  const nodes = Buffer.from(rows[0]!.nodes as Uint8Array);
  for (let i = 0; i < nodes.length; i++) nodes[i] = nodes[i]! ^ 0xff;
  await db.exec('UPDATE tiles SET nodes = ? WHERE level = 0 AND idx = 1', [nodes]);
  await assert.rejects(start(db), (e: Error) => {
    assert.match(e.message, /refusing to start/);
    assert.match(e.message, /root/);
    return true;
  });
  // A missing right-edge tile is refused too.
  await db.exec('DELETE FROM tiles WHERE level = 0 AND idx = 1');
  await assert.rejects(start(db), (e: Error) => {
    assert.match(e.message, /refusing to start: cannot rebuild the tree/);
    return true;
  });
}

/** Boot waits for a live holder's lease, and takes over at once from a dead holder on this host. */
export async function scenarioLeaseAtBoot(db: TestDb): Promise<void> {
  const first = await start(db);
  await submitMany(first, 5);
  await first.booted.app.close();

  // A live sequencer elsewhere: boot must wait until its lease expires.
  await db.exec(
    "UPDATE sequencer_lease SET holder = 'elsewhere:1:abcd', expires_at = ? WHERE name = 'sequencer'",
    [Date.now() + 3_600_000],
  );
  let booted: Ctx | undefined;
  const pending = start(db, {}, { leaseTtlMs: 400 }).then((c) => (booted = c));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(booted, undefined, 'boot waits while another holder has a valid lease');
  await db.exec("UPDATE sequencer_lease SET expires_at = 0 WHERE name = 'sequencer'");
  const second = await pending;
  try {
    const a = await second.writer.submit(makeEntry());
    assert.equal(a.entry.index, 5);
  } finally {
    await second.booted.app.close();
  }

  // A holder on this host whose process is gone (kill -9): taken over without waiting.
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const deadPid = Number(child.stdout.toString());
  const before = await db.exec("SELECT token FROM sequencer_lease WHERE name = 'sequencer'");
  await db.exec("UPDATE sequencer_lease SET holder = ?, expires_at = ? WHERE name = 'sequencer'", [
    `${hostname()}:${deadPid}:abcd`,
    Date.now() + 3_600_000,
  ]);
  const t0 = performance.now();
  const third = await start(db);
  try {
    assert.ok(performance.now() - t0 < 5000, 'no wait for the dead holder');
    const after = await db.exec("SELECT holder, token FROM sequencer_lease WHERE name = 'sequencer'");
    assert.equal(Number(after[0]!.token), Number(before[0]!.token) + 1, 'fencing token moved');
    assert.equal((await third.writer.submit(makeEntry())).entry.index, 6);
  } finally {
    await third.booted.app.close();
  }
}

/**
 * kill -9 of a sequencer process in the middle of a stream of submissions: every acknowledged
 * entry is in the restarted log at its index, and the log verifies.
 */
export async function scenarioKill9(db: TestDb, childScript: string): Promise<void> {
  // Create the log first so the child and parent agree on key and tree.
  const first = await start(db);
  const { identity } = first;
  await first.booted.app.close();

  const env = { ...db.env, LOG_HOSTNAME: 'vellum.test', BATCH_MAX_AGE_MS: '5', BATCH_MAX_SIZE: '64' };
  const child = spawn(process.execPath, [childScript], {
    env: { ...process.env, VELLUM_TEST_ENV: JSON.stringify(env) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acks: Array<{ index: number; leaf: string; size: number }> = [];
  let buf = '';
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited ${code}`)),
    );
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^ack (\d+) ([0-9a-f]{64}) (\d+)$/.exec(line);
        if (m !== null) acks.push({ index: Number(m[1]), leaf: m[2]!, size: Number(m[3]) });
        if (acks.length >= 1500 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      }
    });
  });
  clearTimeout(guard);
  assert.ok(acks.length >= 1500, `child acknowledged ${acks.length}`);

  const ctx = await start(db);
  try {
    assert.equal(ctx.identity.logIdHex, identity.logIdHex);
    const latest = await ctx.reader.latestCheckpoint();
    verifyRekorCheckpoint(latest.note, ctx.identity.publicKey, 'vellum.test');
    assert.ok(latest.size >= Math.max(...acks.map((a) => a.size)), 'no acknowledged checkpoint lost');
    for (const a of acks) {
      const e = await ctx.reader.getByIndex(a.index);
      assert.ok(e !== null, `acknowledged entry ${a.index} survived`);
      assert.equal(e.leafHash.toString('hex'), a.leaf);
      const proof = await ctx.reader.inclusionProof(a.index, latest.size);
      verifyInclusion(e.leafHash, a.index, latest.size, proof, latest.rootHash);
    }
    // The log continues right after whatever the child committed.
    const next = await ctx.writer.submit(makeEntry());
    assert.equal(next.entry.index, latest.size);
  } finally {
    await ctx.booted.app.close();
  }
}
