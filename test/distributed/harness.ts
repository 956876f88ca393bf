/**
 * Multi-process harness: real `vellum serve` processes (ROLE=api / sequencer / all) on a fresh
 * PostgreSQL database and Redis, and the end-of-test checks every scenario shares. The load
 * client (load-client.ts) and the outage tools (outages.ts) are re-exported from here.
 *
 * Responses are checked with test/support/verifier.ts, which imports nothing from src/.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Client } from 'pg';
import { postgresDb, type TestDb } from '../modules/storage-harness';
import {
  type ServeProcess,
  deleteRedisKeys,
  spawnServe,
  writeP256KeyFile,
} from '../../src/bench/server-process';
import { type Reply, freePort, http } from '../support/server';
import { needServices as needRealServices } from '../support/services';
import { until } from '../support/wait';
import type { LoadClient } from './load-client';
export { until } from '../support/wait';
export { LoadClient, type Outcome, type StatusSample, bodies, startLoad } from './load-client';
export { OwnRedis, PgProxy } from './outages';
import {
  type LogContext,
  logKeyFromPem,
  merkleRoot,
  verifyCheckpointNote,
  verifyConsistency,
  verifyLogEntry,
} from '../support/verifier';

export const HOSTNAME = 'vellum.distributed.test';
export const SHARED_REDIS = 'redis://127.0.0.1:6379';
/**
 * The real services these tests need: Redis on 6379, PostgreSQL on 5432. Missing: the test fails
 * under CI=true and is skipped otherwise. Returns false when skipped.
 */
export function needServices(t: TestContext, opts: { redisServerBinary?: boolean } = {}): Promise<boolean> {
  return needRealServices(t, { redis: true, postgres: true, ...opts });
}

/** A fresh PostgreSQL database (dropped by cleanup) and a unique Redis key prefix. */
export interface Deployment {
  readonly db: TestDb;
  readonly databaseUrl: string;
  readonly prefix: string;
  /** Signing key shared by the sequencers (PKCS#8 PEM file). */
  readonly keyPath: string;
  /** QUEUE_HMAC_KEY shared by every process of the deployment. */
  readonly queueKey: string;
  readonly procs: VellumProc[];
  cleanup(): Promise<void>;
}

export async function deployment(): Promise<Deployment> {
  const db = await postgresDb();
  const keyPath = join(db.dataDir, 'log-key.pem');
  writeP256KeyFile(keyPath);
  const procs: VellumProc[] = [];
  const prefix = `vt-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  return {
    db,
    databaseUrl: db.env.DATABASE_URL!,
    prefix,
    keyPath,
    queueKey: randomBytes(32).toString('hex'),
    procs,
    async cleanup() {
      await Promise.all(procs.map((p) => p.kill9()));
      await db.cleanup();
      await deleteKeys(SHARED_REDIS, prefix);
    },
  };
}

/**
 * Runs `fn` on a fresh deployment (cleaned up whatever happens) when the services are there;
 * skips the test otherwise (see needServices).
 */
export async function withDeployment(
  t: TestContext,
  fn: (dep: Deployment) => Promise<void>,
  opts: { redisServerBinary?: boolean } = {},
): Promise<void> {
  if (!(await needServices(t, opts))) return;
  const dep = await deployment();
  try {
    await fn(dep);
  } finally {
    await dep.cleanup();
  }
}

/** Deletes every key under `prefix` (this test's queue and results stream) from a Redis, if reachable. */
export function deleteKeys(url: string, prefix: string): Promise<void> {
  return deleteRedisKeys(url, prefix, true);
}

export type VellumProc = ServeProcess;

export interface StartOptions {
  readonly name: string;
  readonly role: 'all' | 'api' | 'sequencer' | 'monitor';
  readonly redisUrl?: string;
  readonly databaseUrl?: string;
  readonly env?: Record<string, string>;
}

/** Starts `vellum serve` and waits until it listens. */
export async function startVellum(dep: Deployment, o: StartOptions): Promise<VellumProc> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dep.db.dataDir,
    DATABASE_URL: o.databaseUrl ?? dep.databaseUrl,
    REDIS_URL: o.redisUrl ?? SHARED_REDIS,
    REDIS_PREFIX: dep.prefix,
    QUEUE_HMAC_KEY: dep.queueKey,
    ROLE: o.role,
    LOG_HOSTNAME: HOSTNAME,
    LOG_LEVEL: 'warn',
    BATCH_MAX_AGE_MS: '20',
    BATCH_MAX_SIZE: '256',
    VERIFY_WORKERS: '1',
    SEQUENCER_LEASE_TTL_MS: '2000',
    SUBMIT_TIMEOUT_MS: '20000',
    NO_PROXY: '127.0.0.1,localhost',
    ...o.env,
  };
  if (o.role === 'api' || o.role === 'monitor') delete env.SIGNING_KEY_PATH;
  else env.SIGNING_KEY_PATH = dep.keyPath;
  const proc = await spawnServe({ name: o.name, env });
  dep.procs.push(proc);
  return proc;
}

export function getJson(url: string): Promise<Reply> {
  return http(url);
}

/**
 * 'active' or 'standby' as the process's own metrics say (vellum_sequencer_active), which are
 * served whatever the state of the database; undefined if the process does not answer.
 */
export async function sequencerState(p: VellumProc): Promise<string | undefined> {
  try {
    const text = await (await fetch(`${p.url}/metrics`)).text();
    const m = /^vellum_sequencer_active (\d+)$/m.exec(text);
    return m === null ? undefined : m[1] === '1' ? 'active' : 'standby';
  } catch {
    return undefined;
  }
}

/** Waits until `p` reports itself the active sequencer; resolves with the milliseconds it took. */
export function untilActive(p: VellumProc, timeoutMs?: number): Promise<number> {
  return until(`${p.name} active`, async () => (await sequencerState(p)) === 'active', timeoutMs);
}

/** Starts a sequencer and waits until it holds the lease. */
export async function startActiveSequencer(
  dep: Deployment,
  o: Omit<StartOptions, 'role'>,
): Promise<VellumProc> {
  const p = await startVellum(dep, { ...o, role: 'sequencer' });
  await untilActive(p);
  return p;
}

/**
 * A sequencer and `apis` API replicas booted together on the empty database (they migrate it at
 * once; the replicas wait for the sequencer to publish the key), the sequencer active, and the
 * log as a client of the first replica learns it.
 */
export async function startCluster(
  dep: Deployment,
  apis = 1,
): Promise<{ seq: VellumProc; apis: VellumProc[]; ctx: LogContext }> {
  const [seq, ...replicas] = await Promise.all([
    startVellum(dep, { name: 'sequencer', role: 'sequencer' }),
    ...Array.from({ length: apis }, (_, i) =>
      startVellum(dep, { name: apis === 1 ? 'api' : `api-${i + 1}`, role: 'api' }),
    ),
  ]);
  await untilActive(seq!);
  return { seq: seq!, apis: replicas, ctx: await logContext(replicas[0]!.url) };
}

/** The log's public key, tree id and signer name as a verifying client learns them. */
export async function logContext(apiUrl: string): Promise<LogContext> {
  const pem = await (await fetch(`${apiUrl}/api/v1/log/publicKey`)).text();
  const info = (await getJson(`${apiUrl}/api/v1/log`)).json;
  return { key: logKeyFromPem(pem), hostname: HOSTNAME, treeId: info.treeID };
}

// ---------------------------------------------------------------------------------------------
// Final checks

/**
 * What every scenario must end with:
 * - every 201 verifies on its own (SET, checkpoint signature, inclusion proof) with an
 *   independent verifier; every 409 points at the entry with the submitted body;
 * - the database holds each submitted body exactly once, at indices 0..n-1, and nothing else;
 *   every acknowledged entry is at the index it was acknowledged with;
 * - checkpoints of equal size agree, each one is consistent with the next and with the final one
 *   (proofs from the API), and the final root is the reference root over the stored leaves.
 */
export async function verifyRun(
  dep: Deployment,
  apiUrl: string,
  load: LoadClient,
): Promise<{ size: number; checkpoints: number }> {
  const ctx = await logContext(apiUrl);
  const byLeaf = new Map<string, number>();
  const checkpoints = new Map<number, { root: Buffer; note: string }>();
  for (const o of load.outcomes) {
    assert.ok(o.status === 201 || o.status === 409, `unanswered body (statuses ${o.attempts.join(',')})`);
    if (o.status !== 201) continue;
    const v = verifyLogEntry(o.doc, ctx);
    assert.equal(v.leafHash.toString('hex'), o.leafHex);
    byLeaf.set(o.leafHex, v.logIndex);
    const seen = checkpoints.get(v.checkpoint.size);
    if (seen !== undefined) {
      assert.ok(
        seen.root.equals(v.checkpoint.rootHash),
        `two different roots signed for size ${v.checkpoint.size}: a fork`,
      );
    } else {
      checkpoints.set(v.checkpoint.size, {
        root: v.checkpoint.rootHash,
        note: o.doc[Object.keys(o.doc)[0]!].verification.inclusionProof.checkpoint,
      });
    }
  }

  // The stored log: exactly the submitted bodies, once each, at 0..n-1.
  const pg = new Client({ connectionString: dep.databaseUrl });
  await pg.connect();
  let leaves: Buffer[];
  try {
    const rows = (await pg.query('SELECT idx, leaf_hash FROM entries ORDER BY idx')).rows as Array<{
      idx: string;
      leaf_hash: Buffer;
    }>;
    leaves = rows.map((r) => r.leaf_hash);
    rows.forEach((r, i) => assert.equal(Number(r.idx), i, `index ${i} missing or out of order`));
  } finally {
    await pg.end();
  }
  const stored = new Map<string, number>();
  leaves.forEach((l, i) => {
    const hex = l.toString('hex');
    assert.ok(!stored.has(hex), `leaf ${hex} stored twice (indices ${stored.get(hex)} and ${i})`);
    stored.set(hex, i);
  });
  const submitted = new Set(load.outcomes.map((o) => o.leafHex));
  assert.equal(stored.size, submitted.size, 'the log holds exactly the submitted entries');
  for (const hex of submitted) assert.ok(stored.has(hex), `submitted entry ${hex} is not in the log`);
  for (const [hex, idx] of byLeaf) assert.equal(stored.get(hex), idx, `acknowledged entry ${hex} moved`);
  for (const o of load.outcomes) {
    if (o.status === 409) {
      assert.ok(o.location?.endsWith(o.leafHex), `409 Location ${o.location} names the submitted entry`);
    }
  }

  // The final checkpoint covers everything and its root is the reference root of the leaves.
  const info = (await getJson(`${apiUrl}/api/v1/log`)).json;
  const final = verifyCheckpointNote(info.signedTreeHead, ctx.key, ctx.hostname);
  assert.equal(final.size, leaves.length);
  assert.ok(merkleRoot(leaves).equals(final.rootHash), 'final root = reference root over the stored leaves');

  // Every checkpoint a client got is consistent with the next one and with the final one.
  const sizes = [...checkpoints.keys()].sort((a, b) => a - b);
  const rootOf = (s: number) => (s === final.size ? final.rootHash : checkpoints.get(s)!.root);
  if (!checkpoints.has(final.size)) sizes.push(final.size);
  for (let i = 0; i + 1 < sizes.length; i++) {
    for (const [a, b] of [
      [sizes[i]!, sizes[i + 1]!],
      [sizes[i]!, final.size],
    ] as const) {
      if (a === b) continue;
      const r = await getJson(`${apiUrl}/api/v1/log/proof?firstSize=${a}&lastSize=${b}`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      verifyConsistency(
        a,
        b,
        (r.json.hashes as string[]).map((h) => Buffer.from(h, 'hex')),
        rootOf(a),
        rootOf(b),
      );
    }
  }
  return { size: final.size, checkpoints: checkpoints.size };
}
