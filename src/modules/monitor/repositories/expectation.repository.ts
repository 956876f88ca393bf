/** monitor_expectations: announced signings that turn a matching alert into an expected one. */
import { Injectable } from '@nestjs/common';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { num } from '../../storage/sql';
import { optNum, optStr, type Row } from './columns';

export interface ExpectationRecord {
  readonly id: string;
  readonly runInvocationUri?: string;
  readonly digest?: string;
  readonly ruleId?: string;
  readonly note?: string;
  readonly expiresAt?: number;
  readonly createdAt: number;
}

function expectationFromRow(r: Row): ExpectationRecord {
  return {
    id: String(r.id),
    runInvocationUri: optStr(r.run_invocation_uri),
    digest: optStr(r.digest),
    ruleId: optStr(r.rule_id),
    note: optStr(r.note),
    expiresAt: optNum(r.expires_at),
    createdAt: num(r.created_at),
  };
}

@Injectable()
export class ExpectationRepository {
  constructor(private readonly db: VellumDatabase) {}

  async insert(tx: SqlTx, e: ExpectationRecord): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_expectations (id, run_invocation_uri, digest, rule_id, note, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [
        e.id,
        e.runInvocationUri ?? null,
        e.digest ?? null,
        e.ruleId ?? null,
        e.note ?? null,
        e.expiresAt ?? null,
        e.createdAt,
      ],
    );
  }

  /** All expectations, or only those not expired at `activeAt`; oldest first. */
  async list(activeAt?: number): Promise<ExpectationRecord[]> {
    const rows =
      activeAt === undefined
        ? await this.db.read('SELECT * FROM monitor_expectations ORDER BY created_at, id')
        : await this.db.read(
            'SELECT * FROM monitor_expectations WHERE expires_at IS NULL OR expires_at >= ? ORDER BY created_at, id',
            [activeAt],
          );
    return rows.map(expectationFromRow);
  }

  async get(id: string): Promise<ExpectationRecord | undefined> {
    const rows = await this.db.read('SELECT * FROM monitor_expectations WHERE id = ?', [id]);
    return rows.length === 0 ? undefined : expectationFromRow(rows[0]!);
  }

  /** Rows deleted (0 or 1). */
  async delete(tx: SqlTx, id: string): Promise<number> {
    return tx.execute('DELETE FROM monitor_expectations WHERE id = ?', [id]);
  }
}
