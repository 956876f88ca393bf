/**
 * Multi-process harness: real `vellum serve` processes (ROLE=api / sequencer / all) on a fresh
 * PostgreSQL database and Redis, a load client that behaves like a retrying signing client, a
 * private redis-server for Redis outages and a TCP proxy in front of PostgreSQL for database
 * outages (the shared servers are never stopped: other tests use them concurrently), and the
 * end-of-test checks every scenario shares.
 *
 * Responses are checked with test/support/verifier.ts, which imports nothing from src/.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { type Server, type Socket, connect as tcpConnect, createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { makeHashedrekords } from '../../src/bench/http-bench-driver';
import { postgresDb, type TestDb } from '../modules/storage-harness';
import { CLI_MAIN, freePort } from '../support/server';
import {
  type LogContext,
  logKeyFromPem,
  leafHashOf,
  merkleRoot,
  verifyCheckpointNote,
  verifyConsistency,
  verifyLogEntry,
} from '../support/verifier';

export const HOSTNAME = 'vellum.distributed.test';
export const SHARED_REDIS = 'redis://127.0.0.1:6379';
const CI = process.env.CI === 'true';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tcpReachable(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.setTimeout(2000);
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
    s.once('timeout', () => {
      s.destroy();
      res(false);
    });
  });
}

/**
 * The real services these tests need: Redis on 6379, PostgreSQL on 5432. Missing: the test fails
 * under CI=true and is skipped otherwise. Returns false when skipped.
 */
export async function needServices(
  t: TestContext,
  opts: { redisServerBinary?: boolean } = {},
): Promise<boolean> {
  const missing: string[] = [];
  if (!(await tcpReachable(6379))) missing.push('Redis on 127.0.0.1:6379');
  if (!(await tcpReachable(5432))) missing.push('PostgreSQL on 127.0.0.1:5432');
  if (opts.redisServerBinary) {
    const ok = await new Promise<boolean>((res) => {
      const c = spawn('redis-server', ['--version'], { stdio: 'ignore' });
      c.once('error', () => res(false));
      c.once('exit', (code) => res(code === 0));
    });
    if (!ok) missing.push('the redis-server binary');
  }
  if (missing.length === 0) return true;
  const why = `${missing.join(' and ')} unreachable`;
  if (CI) throw new Error(`${why} (CI=true: these tests must run)`);
  t.skip(why);
  return false;
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
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
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

/** Deletes every key under `prefix` (this test's queue and results stream) from a Redis. */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const r = new IORedis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } catch {
    // Redis gone (an outage test's own server): nothing to clean.
  } finally {
    r.disconnect();
  }
}

export interface VellumProc {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** SIGKILL, resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful close), resolves with the exit code. */
  stop(): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

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
  const child = spawn(process.execPath, [CLI_MAIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${o.name} did not start in 60 s:\n${out}`)), 60_000);
    const poll = setInterval(() => {
      const m = /vellum listening on (\S+)\n/.exec(out);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        res(m[1]!);
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      rej(new Error(`${o.name} exited with ${code} during startup:\n${out}`));
    });
  });
  const proc: VellumProc = {
    name: o.name,
    url,
    child,
    exited,
    output: () => out,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  dep.procs.push(proc);
  return proc;
}

export async function getJson(url: string): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url);
  const text = await res.text();
  let json: any;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** Waits until `cond` holds (polling), or fails with `what`. */
export async function until(
  what: string,
  cond: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
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

/** The log's public key, tree id and signer name as a verifying client learns them. */
export async function logContext(apiUrl: string): Promise<LogContext> {
  const pem = await (await fetch(`${apiUrl}/api/v1/log/publicKey`)).text();
  const info = (await getJson(`${apiUrl}/api/v1/log`)).json;
  return { key: logKeyFromPem(pem), hostname: HOSTNAME, treeId: info.treeID };
}

// ---------------------------------------------------------------------------------------------
// Load

export interface Outcome {
  /** Final status: 201 or 409 (retries continue until one of them). */
  status: number;
  /** 201: the LogEntry document. */
  doc?: any;
  /** 409: the Location header. */
  location?: string;
  /** Every status seen for this body, in order (0 = connection error). */
  readonly attempts: number[];
  readonly leafHex: string;
}

export interface StatusSample {
  readonly at: number;
  readonly status: number;
}

/**
 * Submits every body once, round-robin over `urls`, `concurrency` at a time, and behaves like a
 * real client: a 503 or a connection error is retried with the same body after a short pause,
 * until the answer is 201 or 409. Records every status with its time.
 */
export class LoadClient {
  readonly outcomes: Outcome[];
  readonly samples: StatusSample[] = [];
  private next = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private stopped = false;

  constructor(
    private readonly urls: readonly string[],
    private readonly bodies: readonly Buffer[],
    private readonly opts: { concurrency: number; retryPauseMs?: number; maxMs?: number },
  ) {
    this.outcomes = bodies.map((b) => ({ status: 0, attempts: [], leafHex: leafHashOf(b).toString('hex') }));
  }

  get answered(): number {
    return this.outcomes.filter((o) => o.status === 201 || o.status === 409).length;
  }

  count(status: number, since = 0): number {
    return this.samples.filter((s) => s.status === status && s.at >= since).length;
  }

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const deadline = Date.now() + (this.opts.maxMs ?? 120_000);
    const worker = async (w: number) => {
      for (;;) {
        if (this.stopped) return;
        const i = this.next++;
        if (i >= this.bodies.length) return;
        let attempt = 0;
        for (;;) {
          if (Date.now() > deadline)
            throw new Error(
              `body ${i} still unanswered at the deadline: ${this.outcomes[i]!.attempts.join(',')}`,
            );
          const url = this.urls[(i + attempt + w) % this.urls.length]!;
          const r = await this.post(url, this.bodies[i]!);
          this.samples.push({ at: Date.now(), status: r.status });
          const o = this.outcomes[i]!;
          o.attempts.push(r.status);
          if (r.status === 201 || r.status === 409) {
            o.status = r.status;
            if (r.status === 201) o.doc = JSON.parse(r.text);
            else o.location = r.location;
            break;
          }
          if (r.status !== 503 && r.status !== 0) {
            throw new Error(`body ${i}: unexpected HTTP ${r.status}: ${r.text.slice(0, 300)}`);
          }
          if (r.status === 503)
            assert.ok(r.retryAfter !== undefined && /^[0-9]+$/.test(r.retryAfter), '503 carries Retry-After');
          attempt++;
          await sleep(this.opts.retryPauseMs ?? 200);
        }
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, (_, w) => worker(w)));
  }

  private post(
    url: string,
    body: Buffer,
  ): Promise<{ status: number; text: string; location?: string; retryAfter?: string }> {
    const target = new URL('/api/v1/log/entries', url);
    return new Promise((res) => {
      const req = request(
        {
          agent: this.agent,
          hostname: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
          timeout: 60_000,
        },
        (resp) => {
          const chunks: Buffer[] = [];
          resp.on('data', (c: Buffer) => chunks.push(c));
          resp.on('end', () =>
            res({
              status: resp.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              location: resp.headers.location,
              retryAfter: resp.headers['retry-after'] as string | undefined,
            }),
          );
          resp.on('error', () => res({ status: 0, text: 'response error' }));
        },
      );
      req.on('error', (e) => res({ status: 0, text: e.message }));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Distinct signed hashedrekord bodies. */
export function bodies(n: number): Buffer[] {
  return makeHashedrekords(n, 4);
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

// ---------------------------------------------------------------------------------------------
// Outage tools

/** A private redis-server (no persistence) that a test may kill and restart on the same port. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.child = child;
    await until(`redis-server on ${this.port}`, () => tcpReachable(this.port), 10_000);
  }

  /** kill -9: every queued job and stream record is lost (no persistence). */
  async kill(): Promise<void> {
    const c = this.child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await gone;
  }
}

/** A TCP proxy in front of PostgreSQL that can cut every connection and refuse new ones. */
export class PgProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private constructor(readonly port: number) {}

  static async start(): Promise<PgProxy> {
    const p = new PgProxy(await freePort());
    await p.restore();
    return p;
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = tcpConnect({ host: '127.0.0.1', port: 5432 });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    this.server = server;
    return new Promise((res, rej) => {
      server.once('error', rej);
      server.listen(this.port, '127.0.0.1', () => res());
    });
  }

  /** Every open connection is reset and new ones are refused, until restore(). */
  async cut(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    const closed = s === undefined ? Promise.resolve() : new Promise<void>((r) => s.close(() => r()));
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    await closed;
  }
}
