import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The witness's state (C2SP tlog-witness): per log origin, the checkpoint it last cosigned. Rows
 * change only by compare-and-set on (size, root), so two concurrent add-checkpoint requests
 * cannot both win and roll the stored size back. witness_refusals keeps the authentic checkpoints
 * that contradicted the stored one (forks), as evidence.
 */
export class WitnessSchema1766000000000 implements MigrationInterface {
  readonly name = 'WitnessSchema1766000000000';

  async up(q: QueryRunner): Promise<void> {
    const pg = q.connection.driver.options.type === 'postgres';
    const blob = pg ? 'BYTEA' : 'BLOB';
    const int64 = pg ? 'BIGINT' : 'INTEGER';
    await q.query(
      `CREATE TABLE witness_checkpoints (
        origin TEXT NOT NULL PRIMARY KEY,
        size ${int64} NOT NULL,
        root_hash ${blob} NOT NULL,
        note TEXT NOT NULL,
        updated_at ${int64} NOT NULL
      )`,
    );
    await q.query(
      `CREATE TABLE witness_refusals (
        id ${pg ? 'BIGSERIAL' : 'INTEGER'} PRIMARY KEY${pg ? '' : ' AUTOINCREMENT'},
        origin TEXT NOT NULL,
        reason TEXT NOT NULL,
        note TEXT NOT NULL,
        stored_note TEXT,
        created_at ${int64} NOT NULL
      )`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE witness_refusals');
    await q.query('DROP TABLE witness_checkpoints');
  }
}
