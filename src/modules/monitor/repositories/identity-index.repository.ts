/**
 * monitor_identity_keys: (identity key, entry index) pairs the live evaluator writes with each
 * batch, so a backfill over already-evaluated entries reads candidates instead of scanning.
 */
import { Injectable } from '@nestjs/common';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { num, placeholders, valuesList } from '../../storage/sql';

/** Pairs per INSERT: 4,000 parameters, well inside SQLite's 32,766 and PostgreSQL's 65,535. */
const KEY_ROWS = 2000;

@Injectable()
export class IdentityIndexRepository {
  constructor(private readonly db: VellumDatabase) {}

  async insertKeys(tx: SqlTx, keys: ReadonlyArray<readonly [string, number]>): Promise<void> {
    for (let i = 0; i < keys.length; i += KEY_ROWS) {
      const part = keys.slice(i, i + KEY_ROWS);
      await tx.execute(
        `INSERT INTO monitor_identity_keys (key, idx) VALUES ${valuesList(part.length, 2)} ON CONFLICT (key, idx) DO NOTHING`,
        part.flat(),
      );
    }
  }

  /** Entry indexes in [from, to) carrying any of `keys`, ascending, at most `limit`. */
  async candidates(keys: readonly string[], from: number, to: number, limit: number): Promise<number[]> {
    if (keys.length === 0 || from >= to) return [];
    const rows = await this.db.read(
      `SELECT DISTINCT idx FROM monitor_identity_keys WHERE key IN (${placeholders(keys.length)}) AND idx >= ? AND idx < ? ORDER BY idx LIMIT ?`,
      [...keys, from, to, limit],
    );
    return rows.map((r) => num(r.idx));
  }

  async countCandidates(keys: readonly string[], from: number, to: number): Promise<number> {
    if (keys.length === 0 || from >= to) return 0;
    const rows = await this.db.read(
      `SELECT COUNT(DISTINCT idx) AS n FROM monitor_identity_keys WHERE key IN (${placeholders(keys.length)}) AND idx >= ? AND idx < ?`,
      [...keys, from, to],
    );
    return num(rows[0]!.n);
  }
}
