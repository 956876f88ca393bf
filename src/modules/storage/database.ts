import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource, type DataSourceOptions, type QueryRunner } from 'typeorm';
import type { VellumConfig } from '../config/config';
import { type MigrationClass, collectMigrations } from './migrations';
import { type Dialect, toDialect } from './sql';

export type Row = Record<string, unknown>;

/** The statements a transaction body can run. SQL uses `?` placeholders on every dialect. */
export interface SqlTx {
  readonly dialect: Dialect;
  query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a write; returns the number of rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

const SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * Key of the PostgreSQL advisory lock held while migrations run: the ASCII bytes "vellum-m" read
 * as a big-endian int64. Several processes booting at once against one empty database
 * would otherwise race on CREATE TABLE; with the lock the first migrates and the others wait,
 * then find nothing left to do.
 */
export const PG_MIGRATION_LOCK_KEY = '8531344282205629805';

/**
 * TypeORM options for the configured database. Migrations only: never `synchronize`. On
 * PostgreSQL migrations are not run by initialize() but by runMigrationsLocked() afterwards.
 * `migrations`: storage's own and those the role's modules registered (collectMigrations).
 */
export function dataSourceOptions(
  config: VellumConfig,
  migrations: readonly MigrationClass[] = collectMigrations(),
): DataSourceOptions {
  const common = {
    migrations: [...migrations],
    migrationsRun: config.database.type !== 'postgres',
    synchronize: false,
    entities: [],
    logging: false,
  };
  if (config.database.type === 'postgres') {
    return {
      ...common,
      type: 'postgres',
      url: config.database.url,
      // Each migration in its own transaction: a crash mid-migration leaves the previous ones
      // applied and recorded, and the interrupted one rolled back; the next boot resumes there.
      migrationsTransactionMode: 'each',
      // Pool: the sequencer's transaction, API reads and proof computation share it. A dead
      // server must surface as an error quickly (clients get 503), not as a hang: connecting
      // gives up after 5 s, and TCP keepalive probes a silent peer after 10 s idle.
      extra: {
        max: 10,
        connectionTimeoutMillis: 5000,
        idleTimeoutMillis: 30_000,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      },
    };
  }
  return {
    ...common,
    type: 'better-sqlite3',
    database: config.database.path,
    timeout: SQLITE_BUSY_TIMEOUT_MS,
    statementCacheSize: 200,
    prepareDatabase: (db: BetterSqlite3.Database) => {
      // WAL: readers never block the writer and see only committed transactions.
      // synchronous=FULL: COMMIT returns only after the WAL is fsync'd, so an acknowledged
      // entry survives power loss (NORMAL would only survive a process crash).
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    },
  };
}

/**
 * PostgreSQL only: runs pending migrations while holding a session-level advisory lock, so
 * concurrent boots (two API replicas and a sequencer started together) migrate exactly once.
 * A crash while holding the lock ends the session, which releases it.
 */
export async function runMigrationsLocked(ds: DataSource): Promise<void> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(`SELECT pg_advisory_lock(${PG_MIGRATION_LOCK_KEY}::bigint)`);
    try {
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query(`SELECT pg_advisory_unlock(${PG_MIGRATION_LOCK_KEY}::bigint)`);
    }
  } finally {
    await runner.release();
  }
}

/** Creates the data directory (mode 0700: the generated signing key lives there) and the SQLite file's directory. */
export function prepareDirectories(config: VellumConfig): void {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  if (config.database.type === 'sqlite')
    mkdirSync(dirname(config.database.path), { recursive: true, mode: 0o700 });
}

/**
 * Vellum's access to its database: committed-data reads, and serialized write transactions.
 *
 * TypeORM's better-sqlite3 driver runs everything on one connection, so a read issued while the
 * sequencer's transaction is open would see its uncommitted rows. Reads therefore go through a
 * second SQLite connection (query-only), which under WAL sees only committed transactions. On
 * PostgreSQL every query takes its own pooled connection and READ COMMITTED gives the same.
 */
@Injectable()
export class VellumDatabase implements OnApplicationShutdown {
  private readonly logger = new Logger('Storage');
  private txChain: Promise<unknown> = Promise.resolve();
  private readonly stmts = new Map<string, BetterSqlite3.Statement>();
  /** Prepared statements of the write connection (SQLite transactions). */
  private readonly writeStmts = new Map<string, BetterSqlite3.Statement>();
  private closed = false;

  private constructor(
    readonly dataSource: DataSource,
    readonly dialect: Dialect,
    private readonly sqliteReader: BetterSqlite3.Database | undefined,
  ) {}

  static open(dataSource: DataSource, config: VellumConfig): VellumDatabase {
    if (config.database.type === 'postgres') return new VellumDatabase(dataSource, 'postgres', undefined);
    const reader = new BetterSqlite3(config.database.path, {
      fileMustExist: true,
      timeout: SQLITE_BUSY_TIMEOUT_MS,
    });
    reader.pragma('query_only = ON');
    const db = new VellumDatabase(dataSource, 'sqlite', reader);
    const mode = reader.pragma('journal_mode', { simple: true });
    if (mode !== 'wal')
      db.logger.warn(`SQLite journal_mode is ${String(mode)}, not wal: readers may block the sequencer`);
    return db;
  }

  /** A read of committed data. */
  async read<T = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    if (this.sqliteReader === undefined) {
      return (await this.dataSource.query(toDialect(sql, 'postgres'), params as unknown[])) as T[];
    }
    return cachedStatement(this.stmts, this.sqliteReader, sql).all(...params) as T[];
  }

  /**
   * Runs `fn` in one transaction and commits; rolls back and rethrows if `fn` or the COMMIT
   * throws. Transactions run one at a time in this process. SQLite takes the write lock at BEGIN
   * (IMMEDIATE), so a second process waits on busy_timeout instead of failing mid-transaction.
   */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const run = this.txChain.then(
      () => this.runTransaction(fn),
      () => this.runTransaction(fn),
    );
    this.txChain = run.catch(() => undefined);
    return run;
  }

  private async runTransaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('database is closed');
    if (this.dialect === 'sqlite') return this.runSqliteTransaction(fn);
    const runner = this.dataSource.createQueryRunner();
    const dialect = this.dialect;
    const tx: SqlTx = {
      dialect,
      async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
        const res = await runner.query(toDialect(sql, dialect), params as unknown[], true);
        return (res.records ?? []) as R[];
      },
      async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
        const res = await runner.query(toDialect(sql, dialect), params as unknown[], true);
        return res.affected ?? 0;
      },
    };
    try {
      await runner.connect();
      await runner.query('BEGIN');
      let result: T;
      try {
        result = await fn(tx);
        await runner.query('COMMIT');
      } catch (e) {
        await rollbackQuietly(runner);
        throw e;
      }
      return result;
    } finally {
      await runner.release();
    }
  }

  /**
   * SQLite: the same transaction on TypeORM's one better-sqlite3 connection, but through this
   * class's own prepared statements. TypeORM's query runner adds an event broadcast, a logger call
   * and an awaited statement lookup to every statement; a batch runs about ten, on the event loop.
   * The statements, the IMMEDIATE lock and synchronous=FULL (set on the connection at open) are
   * unchanged: COMMIT still returns only once the WAL is fsync'd.
   */
  private async runSqliteTransaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const conn = (this.dataSource.driver as unknown as { databaseConnection: BetterSqlite3.Database })
      .databaseConnection;
    const stmt = (sql: string): BetterSqlite3.Statement => cachedStatement(this.writeStmts, conn, sql);
    const tx: SqlTx = {
      dialect: 'sqlite',
      async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
        const st = stmt(sql);
        if (st.reader) return st.all(...params) as R[];
        st.run(...params);
        return [];
      },
      async execute(sql: string, params: readonly unknown[] = []): Promise<number> {
        const st = stmt(sql);
        if (st.reader) {
          st.all(...params);
          return 0;
        }
        return st.run(...params).changes;
      },
    };
    stmt('BEGIN IMMEDIATE').run();
    let result: T;
    try {
      result = await fn(tx);
      stmt('COMMIT').run();
    } catch (e) {
      try {
        // A failed COMMIT may already have ended the transaction: then nothing is left to undo.
        if (conn.inTransaction) stmt('ROLLBACK').run();
      } catch {
        // The connection cannot roll back (I/O error): SQLite discards the open transaction's
        // uncommitted WAL frames on the next open, so nothing of it is durable either way.
      }
      throw e;
    }
    return result;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.txChain;
    this.stmts.clear();
    this.writeStmts.clear();
    this.sqliteReader?.close();
  }
}

/** A statement prepared once per connection; the oldest of more than 256 is dropped. */
function cachedStatement(
  cache: Map<string, BetterSqlite3.Statement>,
  db: BetterSqlite3.Database,
  sql: string,
): BetterSqlite3.Statement {
  let stmt = cache.get(sql);
  if (stmt === undefined) {
    stmt = db.prepare(sql);
    cache.set(sql, stmt);
    if (cache.size > 256) cache.delete(cache.keys().next().value as string);
  }
  return stmt;
}

async function rollbackQuietly(runner: QueryRunner): Promise<void> {
  try {
    await runner.query('ROLLBACK');
  } catch {
    // No transaction left to roll back (a failed COMMIT already ended it, or the connection
    // is gone and the server aborted it): nothing of this transaction is durable either way.
  }
}
