import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Test } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { ConfigModule } from '../../src/modules/config/config.module';
import { loadConfig } from '../../src/modules/config/config';
import { VellumDatabase, dataSourceOptions, runMigrationsLocked } from '../../src/modules/storage/database';
import { DbTileSource } from '../../src/modules/storage/db-tile-source';
import { LruCache } from '../../src/modules/storage/lru';
import { LOG_MIGRATIONS, collectMigrations } from '../../src/modules/storage/migrations';
import { roleMigrations } from '../../src/roles';
import { chunkRows, num, toDialect, valuesList } from '../../src/modules/storage/sql';
import { StorageModule } from '../../src/modules/storage/storage.module';
import { CapturingLogger, postgresDb, sqliteDb, tempDir, type TestDb, withTestDb } from './storage-harness';

const TABLES = ['checkpoints', 'entries', 'index_keys', 'meta', 'sequencer_lease', 'tiles'];

async function openStorage(env: Record<string, string>, cwd: string) {
  const app = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(loadConfig(env, cwd)), StorageModule.forRoot()],
  })
    .setLogger(new CapturingLogger())
    .compile();
  await app.init();
  return { app, db: app.get(VellumDatabase), ds: app.get(DataSource) };
}

async function tableNames(db: VellumDatabase): Promise<string[]> {
  const rows =
    db.dialect === 'sqlite'
      ? await db.read<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      : await db.read<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
        );
  return rows
    .map((r) => r.name)
    .filter((n) => TABLES.includes(n))
    .sort();
}

/** Shared checks on either database: schema, committed-only reads, rollback, serialized transactions. */
async function checkDatabase(tdb: TestDb): Promise<void> {
  const { app, db, ds } = await openStorage(tdb.env, tdb.dataDir);
  try {
    assert.deepEqual(await tableNames(db), TABLES);

    // Reads never see an open transaction's rows.
    let seenInside: unknown[] = ['not run'];
    await db.transaction(async (tx) => {
      await tx.execute('INSERT INTO meta (key, value) VALUES (?, ?)', ['k1', 'v1']);
      assert.equal((await tx.query('SELECT value FROM meta WHERE key = ?', ['k1'])).length, 1);
      seenInside = await db.read('SELECT value FROM meta WHERE key = ?', ['k1']);
    });
    assert.deepEqual(seenInside, []);
    assert.deepEqual(await db.read('SELECT value FROM meta WHERE key = ?', ['k1']), [{ value: 'v1' }]);

    // A throwing body rolls everything back.
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.execute('INSERT INTO meta (key, value) VALUES (?, ?)', ['k2', 'v2']);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await db.read('SELECT value FROM meta WHERE key = ?', ['k2']), []);

    // Concurrent callers are serialized rather than nesting BEGINs.
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        db.transaction((tx) => tx.execute('INSERT INTO meta (key, value) VALUES (?, ?)', [`c${i}`, 'x'])),
      ),
    );
    assert.equal((await db.read("SELECT key FROM meta WHERE key LIKE 'c%'")).length, 5);

    // execute() counts changed rows; a statement that fails (a duplicate key) rolls back the
    // statements before it in the same transaction, and the next transaction starts cleanly.
    assert.equal(
      await db.transaction((tx) => tx.execute("UPDATE meta SET value = 'y' WHERE key LIKE 'c%'")),
      5,
    );
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.execute('INSERT INTO meta (key, value) VALUES (?, ?)', ['k3', 'v3']);
        await tx.execute('INSERT INTO meta (key, value) VALUES (?, ?)', ['c0', 'again']);
      }),
    );
    assert.deepEqual(await db.read('SELECT value FROM meta WHERE key = ?', ['k3']), []);
    assert.deepEqual(
      await db.transaction(async (tx) => {
        await tx.execute('INSERT INTO meta (key, value) VALUES (?, ?)', ['k4', 'v4']);
        return tx.query('SELECT key, value FROM meta WHERE key IN (?, ?) ORDER BY key', ['c0', 'k4']);
      }),
      [
        { key: 'c0', value: 'y' },
        { key: 'k4', value: 'v4' },
      ],
    );

    // 64-bit columns round-trip as numbers beyond 2^32.
    const big = 2 ** 40 + 7;
    await db.transaction((tx) =>
      tx.execute('INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)', [
        big,
        Buffer.alloc(32, 1),
        'n',
        1,
      ]),
    );
    const row = (await db.read<{ size: unknown; root: unknown }>('SELECT size, root FROM checkpoints'))[0]!;
    assert.equal(num(row.size), big);
    assert.ok(Buffer.isBuffer(row.root) && row.root.equals(Buffer.alloc(32, 1)));

    const migrations = await ds.query('SELECT name FROM migrations');
    assert.equal(migrations.length, LOG_MIGRATIONS.length);
  } finally {
    await app.close();
  }
  // Reopening the same database runs no migration again and keeps the data.
  const again = await openStorage(tdb.env, tdb.dataDir);
  try {
    assert.equal((await again.ds.query('SELECT name FROM migrations')).length, LOG_MIGRATIONS.length);
    assert.equal((await again.db.read("SELECT key FROM meta WHERE key LIKE 'c%'")).length, 5);
  } finally {
    await again.app.close();
  }
}

test('sqlite storage: schema by migration, committed-only reads, rollback, serialized transactions, reopen', () =>
  withTestDb(sqliteDb, checkDatabase));

test('postgres storage: schema by migration, committed-only reads, rollback, serialized transactions, reopen', () =>
  withTestDb(postgresDb, async (tdb) => {
    await checkDatabase(tdb);
    const types = await tdb.exec(
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'entries' ORDER BY column_name",
    );
    const byName = Object.fromEntries(types.map((r) => [r.column_name, r.data_type]));
    assert.equal(byName.idx, 'bigint');
    assert.equal(byName.leaf_hash, 'bytea');
    assert.equal(byName.integrated_time, 'bigint');
  }));

test('sqlite storage: creates DATA_DIR (0700), WAL, synchronous=FULL, busy_timeout', async () => {
  const root = tempDir();
  const dataDir = join(root, 'nested', 'data');
  const { app, ds } = await openStorage({ DATA_DIR: dataDir }, root);
  try {
    assert.equal(statSync(dataDir).mode & 0o777, 0o700);
    assert.ok(statSync(join(dataDir, 'vellum.db')).isFile());
    assert.deepEqual(await ds.query('PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);
    assert.deepEqual(await ds.query('PRAGMA synchronous'), [{ synchronous: 2 }]);
    assert.deepEqual(await ds.query('PRAGMA busy_timeout'), [{ timeout: 5000 }]);
  } finally {
    await app.close();
  }
});

test('DbTileSource: full tiles cached, partial tiles re-read unless the owner caches them, request order kept', async () => {
  const tdb = await sqliteDb();
  const { app, db } = await openStorage(tdb.env, tdb.dataDir);
  try {
    const put = (level: number, idx: number, width: number, fill: number) =>
      db.transaction((tx) =>
        tx.execute(
          'INSERT INTO tiles (level, idx, width, nodes) VALUES (?, ?, ?, ?) ' +
            'ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, nodes = excluded.nodes',
          [level, idx, width, Buffer.alloc(8, fill)],
        ),
      );
    await put(0, 0, 256, 1);
    await put(0, 1, 10, 2);

    const reader = new DbTileSource(db, { capacity: 8, cachePartial: false });
    const first = await reader.readTiles([
      { level: 0, index: 1 },
      { level: 3, index: 0 },
      { level: 0, index: 0 },
    ]);
    assert.equal(first[0]!.width, 10);
    assert.equal(first[1], undefined);
    assert.equal(first[2]!.width, 256);
    assert.deepEqual([first[0]!.level, first[0]!.index, first[2]!.index], [0, 1, 0]);

    // Change both rows behind the reader's back.
    await put(0, 0, 256, 9);
    await put(0, 1, 11, 9);
    const second = await reader.readTiles([
      { level: 0, index: 0 },
      { level: 0, index: 1 },
    ]);
    assert.equal(second[0]!.nodes[0], 1, 'full tile served from cache');
    assert.equal(second[1]!.width, 11, 'partial tile re-read');

    const owner = new DbTileSource(db, { capacity: 8, cachePartial: true });
    assert.equal((await owner.readTiles([{ level: 0, index: 1 }]))[0]!.width, 11);
    await put(0, 1, 12, 9);
    assert.equal(
      (await owner.readTiles([{ level: 0, index: 1 }]))[0]!.width,
      11,
      'owner caches partial tiles',
    );
    owner.put([{ level: 0, index: 1, width: 12, nodes: Buffer.alloc(8, 9) }]);
    assert.equal((await owner.readTiles([{ level: 0, index: 1 }]))[0]!.width, 12);
    owner.clear();
    await put(0, 1, 13, 9);
    assert.equal((await owner.readTiles([{ level: 0, index: 1 }]))[0]!.width, 13);
  } finally {
    await app.close();
    await tdb.cleanup();
  }
});

test('LruCache evicts the least recently used entry', () => {
  const c = new LruCache<string, number>(2);
  c.set('a', 1);
  c.set('b', 2);
  assert.equal(c.get('a'), 1);
  c.set('c', 3);
  assert.equal(c.get('b'), undefined);
  assert.equal(c.get('a'), 1);
  assert.equal(c.get('c'), 3);
  assert.equal(c.size, 2);
  assert.throws(() => new LruCache(0));
});

test('sql helpers: placeholders per dialect, chunking by rows and bytes, integer decoding', () => {
  assert.equal(toDialect('a = ? AND b IN (?, ?)', 'postgres'), 'a = $1 AND b IN ($2, $3)');
  assert.equal(toDialect('a = ?', 'sqlite'), 'a = ?');
  assert.equal(valuesList(2, 3), '(?, ?, ?), (?, ?, ?)');
  assert.deepEqual(
    chunkRows([1, 2, 3, 4, 5], 2, 1000, () => 1),
    [[1, 2], [3, 4], [5]],
  );
  assert.deepEqual(
    chunkRows([5, 5, 5], 10, 9, (x) => x),
    [[5], [5], [5]],
  );
  assert.deepEqual(
    chunkRows([20], 10, 9, (x) => x),
    [[20]],
    'an oversized row still gets a chunk',
  );
  assert.equal(num('9007199254740991'), Number.MAX_SAFE_INTEGER);
  assert.equal(num(5), 5);
  assert.throws(() => num('1.5'));
});

test('postgres storage: processes booting at once on an empty database migrate it exactly once (advisory lock)', async () => {
  const tdb = await postgresDb();
  const config = loadConfig(tdb.env, tdb.dataDir);
  // Straight DataSources (no Nest retry around them): a migration race would surface as an error.
  const sources = Array.from({ length: 4 }, () => new DataSource(dataSourceOptions(config)));
  try {
    await Promise.all(sources.map((ds) => ds.initialize()));
    await Promise.all(sources.map((ds) => runMigrationsLocked(ds)));
    const rows = await tdb.exec('SELECT name FROM migrations ORDER BY id');
    assert.deepEqual(
      rows.map((r) => r.name),
      LOG_MIGRATIONS.map((m) => new m().name),
    );
    const tables = await tdb.exec(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    for (const t of TABLES)
      assert.ok(
        tables.some((r) => r.name === t),
        `table ${t}`,
      );
  } finally {
    await Promise.all(sources.map((ds) => (ds.isInitialized ? ds.destroy() : undefined)));
    await tdb.cleanup();
  }
});

test('migrations are registered by the modules that own the tables: the roles with the monitor migrate its tables after the log, in timestamp order, on both dialects', async () => {
  const sqlite = loadConfig({}, tempDir());
  const monitorTable = 'monitor_rules';
  assert.deepEqual(roleMigrations({ ...sqlite, role: 'sequencer' }), [], 'the sequencer loads no monitor');
  const forAll = collectMigrations(roleMigrations(sqlite));
  assert.ok(forAll.length > LOG_MIGRATIONS.length, 'ROLE=all registers the monitor migrations');
  assert.deepEqual(forAll.slice(0, LOG_MIGRATIONS.length), [...LOG_MIGRATIONS]);
  const stamps = forAll.map((m) => Number(/(\d{13})$/.exec(m.name)![1]));
  assert.deepEqual(
    stamps,
    [...stamps].sort((a, b) => a - b),
  );
  assert.throws(() => collectMigrations([class Clash1760000000000 {} as never]), /share one timestamp/);

  for (const tdb of [await sqliteDb(), await postgresDb()]) {
    const config = loadConfig(tdb.env, tdb.dataDir);
    const ds = new DataSource(dataSourceOptions(config, collectMigrations(roleMigrations(config))));
    try {
      await ds.initialize();
      if (config.database.type === 'postgres') await runMigrationsLocked(ds);
      const names = (await ds.query('SELECT name FROM migrations ORDER BY id')) as Array<{ name: string }>;
      assert.deepEqual(
        names.map((r) => r.name),
        forAll.map((m) => m.name),
        `${tdb.kind}: every registered migration ran, oldest first`,
      );
      const tables =
        tdb.kind === 'postgres'
          ? await tdb.exec(
              "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
            )
          : ((await ds.query("SELECT name FROM sqlite_master WHERE type = 'table'")) as Array<{
              name: string;
            }>);
      assert.ok(
        tables.some((r) => r.name === monitorTable),
        `${tdb.kind}: ${monitorTable} exists`,
      );
    } finally {
      if (ds.isInitialized) await ds.destroy();
      await tdb.cleanup();
    }
  }
});
