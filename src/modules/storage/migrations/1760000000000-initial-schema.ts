import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The log's tables. One schema for SQLite and PostgreSQL; only the type names differ
 * (BLOB/BYTEA, INTEGER/BIGINT for 64-bit values). Indices, sizes and times are 64-bit integers.
 *
 * - entries: one row per leaf, `idx` = leaf index; `leaf_hash` UNIQUE backs the duplicate rule.
 * - index_keys: search keys (the Rekor v1 OpenAPI `SearchIndex`) -> leaf index; PK (key, leaf_idx) serves lookups.
 * - tiles: the newest version of every hash tile (width < 256 while it is the right edge);
 *   `nodes` is the core's opaque tile encoding.
 * - checkpoints: every checkpoint signed, by size; the largest is the log's current state.
 * - meta: small key/value facts fixed at first boot (tree id).
 * - sequencer_lease: the single-writer lease with its fencing token.
 */
export class InitialSchema1760000000000 implements MigrationInterface {
  readonly name = 'InitialSchema1760000000000';

  async up(q: QueryRunner): Promise<void> {
    const pg = q.connection.driver.options.type === 'postgres';
    const blob = pg ? 'BYTEA' : 'BLOB';
    const int64 = pg ? 'BIGINT' : 'INTEGER';
    // SQLite: an INTEGER PRIMARY KEY is the rowid (no second index); index_keys is clustered on
    // its key so a search reads one b-tree range.
    const withoutRowid = pg ? '' : ' WITHOUT ROWID';
    await q.query(
      `CREATE TABLE entries (
        idx ${int64} NOT NULL PRIMARY KEY,
        leaf_hash ${blob} NOT NULL UNIQUE,
        body ${blob} NOT NULL,
        kind TEXT NOT NULL,
        api_version TEXT NOT NULL,
        integrated_time ${int64} NOT NULL,
        set_sig ${blob} NOT NULL
      )`,
    );
    await q.query(
      `CREATE TABLE index_keys (
        key TEXT NOT NULL,
        leaf_idx ${int64} NOT NULL,
        PRIMARY KEY (key, leaf_idx)
      )${withoutRowid}`,
    );
    await q.query(
      `CREATE TABLE tiles (
        level INTEGER NOT NULL,
        idx ${int64} NOT NULL,
        width INTEGER NOT NULL,
        nodes ${blob} NOT NULL,
        PRIMARY KEY (level, idx)
      )`,
    );
    await q.query(
      `CREATE TABLE checkpoints (
        size ${int64} NOT NULL PRIMARY KEY,
        root ${blob} NOT NULL,
        note TEXT NOT NULL,
        created_at ${int64} NOT NULL
      )`,
    );
    await q.query(`CREATE TABLE meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)`);
    await q.query(
      `CREATE TABLE sequencer_lease (
        name TEXT NOT NULL PRIMARY KEY,
        holder TEXT NOT NULL,
        token ${int64} NOT NULL,
        expires_at ${int64} NOT NULL
      )`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['sequencer_lease', 'meta', 'checkpoints', 'tiles', 'index_keys', 'entries']) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
