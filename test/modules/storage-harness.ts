/**
 * Shared set-up for the storage, signer and sequencer medium tests: a config on a temp dir,
 * a Nest testing module with the real modules, and throwaway PostgreSQL databases.
 */
import { ConsoleLogger, type LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import BetterSqlite3 from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { leafHash } from '../../src/core/merkle/hash';
import { loadConfig, type VellumConfig } from '../../src/modules/config/config';
import { ConfigModule } from '../../src/modules/config/config.module';
import type { PreparedEntry } from '../../src/modules/log/log.types';
import { LogModule } from '../../src/modules/log/log.module';
import { SEQUENCER_OPTIONS, type SequencerOptions } from '../../src/modules/sequencer/sequencer.options';
import { SignerModule } from '../../src/modules/signer/signer.module';
import { StorageModule } from '../../src/modules/storage/storage.module';
import { ROLE_PARTS, type RolePart, rolePart } from '../../src/roles';

export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** A database for one scenario: environment to point Vellum at it, raw SQL access, clean-up. */
export interface TestDb {
  readonly kind: 'sqlite' | 'postgres';
  readonly dataDir: string;
  readonly env: Record<string, string>;
  /** Runs SQL on a separate connection (as another process would). `?` placeholders. */
  exec(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  cleanup(): Promise<void>;
}

export function tempDir(prefix = 'vellum-h4-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function sqliteDb(): Promise<TestDb> {
  const dataDir = tempDir();
  const path = join(dataDir, 'vellum.db');
  let conn: BetterSqlite3.Database | undefined;
  return {
    kind: 'sqlite',
    dataDir,
    env: { DATA_DIR: dataDir },
    async exec(sql, params = []) {
      conn ??= new BetterSqlite3(path, { timeout: 5000 });
      const stmt = conn.prepare(sql);
      if (stmt.reader) return stmt.all(...params) as Array<Record<string, unknown>>;
      stmt.run(...params);
      return [];
    },
    async cleanup() {
      conn?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh PostgreSQL database (unique name), dropped by cleanup(). */
export async function postgresDb(): Promise<TestDb> {
  const dataDir = tempDir();
  const name = `vellum_h4_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = `postgres://postgres@127.0.0.1:5432/${name}`;
  let client: Client | undefined;
  return {
    kind: 'postgres',
    dataDir,
    env: { DATA_DIR: dataDir, DATABASE_URL: url },
    async exec(sql, params = []) {
      if (client === undefined) {
        client = new Client({ connectionString: url });
        await client.connect();
      }
      let n = 0;
      const res = await client.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      );
      return res.rows as Array<Record<string, unknown>>;
    },
    async cleanup() {
      await client?.end();
      const a = new Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn` on a fresh database from `open`, cleaned up whatever happens. */
export async function withTestDb<T>(open: () => Promise<TestDb>, fn: (db: TestDb) => Promise<T>): Promise<T> {
  const db = await open();
  try {
    return await fn(db);
  } finally {
    await db.cleanup();
  }
}

export function testConfig(db: TestDb, env: Record<string, string> = {}): VellumConfig {
  return loadConfig({ LOG_HOSTNAME: 'vellum.test', BATCH_MAX_AGE_MS: '20', ...db.env, ...env }, db.dataDir);
}

/** Collects log lines so tests can assert on what boot printed; prints errors only. */
export class CapturingLogger extends ConsoleLogger implements LoggerService {
  readonly lines: string[] = [];
  constructor() {
    super('test', { logLevels: ['error'] });
  }
  override log(message: unknown, context?: string): void {
    this.lines.push(`${context ?? ''}: ${String(message)}`);
  }
  override warn(message: unknown, context?: string): void {
    this.lines.push(`${context ?? ''}: WARN ${String(message)}`);
  }
  override error(message: unknown, ...rest: unknown[]): void {
    this.lines.push(`ERROR ${String(message)}`);
    if (process.env.VELLUM_TEST_VERBOSE) super.error(message, ...(rest as []));
  }
}

export interface Booted {
  readonly app: TestingModule;
  readonly logger: CapturingLogger;
}

/** Storage + signer (+ sequencer and WRITE_PATH as the role has them, unless `writer: false`), initialised. */
export async function boot(
  config: VellumConfig,
  options: { writer?: boolean; sequencer?: SequencerOptions } = {},
): Promise<Booted> {
  const logger = new CapturingLogger();
  // The role's own identity part (signing or published) and, unless writer is false, its
  // write-path parts (ROLE=sequencer has no WRITE_PATH). SignerModule only where the role signs.
  const identityParts: RolePart[] = ['signingIdentity', 'publishedIdentity'];
  const wanted: RolePart[] =
    options.writer === false ? identityParts : [...identityParts, 'sequencer', 'writePath'];
  const parts = ROLE_PARTS[config.role].filter((p) => wanted.includes(p));
  const imports = [
    ConfigModule.forRoot(config),
    StorageModule.forRoot(),
    ...(parts.includes('signingIdentity') ? [SignerModule] : []),
    LogModule,
    ...parts.flatMap((p) => rolePart(p, config)),
  ];
  let builder = Test.createTestingModule({ imports }).setLogger(logger);
  if (options.writer !== false) {
    builder = builder.overrideProvider(SEQUENCER_OPTIONS).useValue(options.sequencer ?? {});
  }
  const app = await builder.compile();
  try {
    await app.init();
  } catch (e) {
    // Close what did start (database connections, pools) so a failed boot leaks nothing.
    await app.close().catch(() => undefined);
    throw e;
  }
  return { app, logger };
}

let counter = 0;

/** A distinct prepared entry; `tag` makes equal tags equal entries. */
export function makeEntry(tag?: string): PreparedEntry {
  const t = tag ?? `${process.pid}-${++counter}-${randomBytes(6).toString('hex')}`;
  const body = Buffer.from(JSON.stringify({ apiVersion: '0.0.1', kind: 'hashedrekord', spec: { tag: t } }));
  return {
    kind: 'hashedrekord',
    apiVersion: '0.0.1',
    body,
    leafHash: leafHash(body),
    indexKeys: [`sha256:${leafHash(Buffer.from(t)).toString('hex')}`, 'someone@example.com'],
  };
}
