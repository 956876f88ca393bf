import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Client } from 'pg';
import { makeHashedrekords } from '../../src/bench/bench-entries';
import { type TestDb, postgresDb, sqliteDb } from '../modules/storage-harness';
import { CLI_MAIN, freePort, http, startTestServer } from '../support/server';
import { verifyCheckpointNote, verifyConsistency, verifyLogEntry } from '../support/verifier';
import { needServices } from './harness';

const HOST = 'vellum.boot.test';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function env(db: TestDb): Record<string, string> {
  return { ...db.env, LOG_HOSTNAME: HOST, VERIFY_WORKERS: '1' };
}

/**
 * Starts `vellum serve` and SIGKILLs it when `killWhen` resolves (or when it is listening, which
 * means the kill came too late to be during boot). Returns 'listening' or 'booting'.
 */
async function bootAndKill(db: TestDb, killWhen: (alive: () => boolean) => Promise<void>): Promise<string> {
  const port = await freePort();
  const e: NodeJS.ProcessEnv = {
    ...process.env,
    ...env(db),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
  };
  for (const k of ['REDIS_URL', 'ROLE', 'SIGNING_KEY_PATH']) delete e[k];
  const child = spawn(process.execPath, [CLI_MAIN, 'serve'], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  await Promise.race([killWhen(() => !gone), exited]);
  child.kill('SIGKILL');
  await exited;
  // Nest holds back its boot logs until start-up ends, so how far boot got is read from the
  // database by the caller (migrations recorded), not from the output.
  return /vellum listening/.test(out) ? 'listening' : 'booting';
}

/** PostgreSQL: resolves while the migration advisory lock is held in `dbName`, i.e. mid-migration. */
function duringPgMigrations(adminUrl: string, dbName: string): (alive: () => boolean) => Promise<void> {
  return async (alive) => {
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    try {
      const t0 = Date.now();
      while (alive() && Date.now() - t0 < 20_000) {
        const r = await c.query(
          "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = $1",
          [dbName],
        );
        if (r.rows[0].n > 0) {
          await sleep(randomInt(0, 30));
          return;
        }
        await sleep(5);
      }
    } finally {
      await c.end();
    }
  };
}

async function migrationsRecorded(db: TestDb): Promise<number> {
  try {
    return Number((await db.exec('SELECT count(*) AS n FROM migrations'))[0]!.n);
  } catch {
    return 0;
  }
}

/**
 * kill -9 at random points of boot, first on an empty database (while migrations run), then on a
 * log holding acknowledged entries; after each round a full start must succeed with every
 * acknowledged entry in place, a checkpoint that verifies and is consistent with the one before
 * the kills, and writes that work.
 */
async function scenario(t: TestContext, db: TestDb, migrationKill?: (alive: () => boolean) => Promise<void>) {
  const phases: string[] = [];
  const recorded: number[] = [];
  // Empty database: kills during the first boot (migrations, the empty tree's checkpoint, keys).
  for (let i = 0; i < 2 && migrationKill !== undefined; i++) {
    phases.push(await bootAndKill(db, migrationKill));
    recorded.push(await migrationsRecorded(db));
  }
  for (const ms of [300, 1500, 3000].map((d) => d + randomInt(0, 500))) {
    phases.push(await bootAndKill(db, () => sleep(ms)));
    recorded.push(await migrationsRecorded(db));
  }

  t.diagnostic(
    `empty database: kills ${phases.join(', ')}; migrations recorded after each: ${recorded.join(',')}`,
  );

  const bodies = makeHashedrekords(12, 2);
  const t0 = Date.now();
  let server = await startTestServer({ dataDir: db.dataDir, env: env(db) });
  // Later kills land anywhere in a boot of this length (this machine is shared and slow).
  const bootMs = Date.now() - t0;
  const acked: any[] = [];
  for (const b of bodies.slice(0, 8)) {
    const r = await http(`${server.url}/api/v1/log/entries`, { body: b.toString() });
    assert.equal(r.status, 201, r.text);
    acked.push(r.json);
  }
  const ctx = server.ctx;
  const before = verifyCheckpointNote(
    (await http(`${server.url}/api/v1/log`)).json.signedTreeHead,
    ctx.key,
    HOST,
  );
  assert.equal(before.size, 8);
  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));

  const later: string[] = [];
  for (let i = 0; i < 4; i++)
    later.push(await bootAndKill(db, () => sleep(randomInt(Math.floor(bootMs / 5), bootMs + 200))));
  t.diagnostic(`log of 8 entries (full boot ${bootMs} ms): kills ${later.join(', ')}`);

  server = await startTestServer({ dataDir: db.dataDir, env: env(db) });
  try {
    assert.equal(server.ctx.treeId, ctx.treeId, 'the same log, not a new one');
    for (const [i, doc] of acked.entries()) {
      const r = await http(`${server.url}/api/v1/log/entries/${Object.keys(doc)[0]}`);
      assert.equal(r.status, 200, `acknowledged entry ${i} is gone`);
      assert.equal(verifyLogEntry(r.json, ctx).logIndex, i);
    }
    for (const b of bodies.slice(8)) {
      const r = await http(`${server.url}/api/v1/log/entries`, { body: b.toString() });
      assert.equal(r.status, 201, r.text);
    }
    const after = verifyCheckpointNote(
      (await http(`${server.url}/api/v1/log`)).json.signedTreeHead,
      ctx.key,
      HOST,
    );
    assert.equal(after.size, 12);
    const proof = await http(`${server.url}/api/v1/log/proof?firstSize=8&lastSize=12`);
    assert.equal(proof.status, 200, proof.text);
    verifyConsistency(
      8,
      12,
      (proof.json.hashes as string[]).map((h) => Buffer.from(h, 'hex')),
      before.rootHash,
      after.rootHash,
    );
    assert.equal((await http(`${server.url}/ready`)).status, 200);
  } finally {
    await server.stop();
  }
}

test('kill -9 during boot and migrations, SQLite: nothing acknowledged lost, a clean start after', async (t) => {
  const db = await sqliteDb();
  try {
    const file = join(db.dataDir, 'vellum.db');
    // SQLite migrations run inside the first seconds of boot: kill soon after the file appears.
    await scenario(t, db, async (alive) => {
      while (alive() && !existsSync(file)) await sleep(2);
      await sleep(randomInt(0, 40));
    });
  } finally {
    await db.cleanup();
  }
});

test('kill -9 during boot and migrations, PostgreSQL: nothing acknowledged lost, a clean start after', async (t) => {
  if (!(await needServices(t))) return;
  const db = await postgresDb();
  try {
    const url = new URL(db.env.DATABASE_URL!);
    const name = url.pathname.slice(1);
    url.pathname = '/test';
    await scenario(t, db, duringPgMigrations(url.toString(), name));
  } finally {
    await db.cleanup();
  }
});
