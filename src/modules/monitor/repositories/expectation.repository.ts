/** monitor_expectations: announced signings that turn a matching alert into an expected one. */
import { Injectable } from '@nestjs/common';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { fromRow, insertRow, int, opt, str, type RecordOf, type Row } from './columns';

const EXPECTATION = {
  id: str(),
  runInvocationUri: opt(str()),
  digest: opt(str()),
  ruleId: opt(str()),
  note: opt(str()),
  expiresAt: opt(int),
  createdAt: int,
};
export type ExpectationRecord = RecordOf<typeof EXPECTATION>;

const expectationFromRow = (r: Row): ExpectationRecord => fromRow(EXPECTATION, r);

@Injectable()
export class ExpectationRepository {
  constructor(private readonly db: VellumDatabase) {}

  async insert(tx: SqlTx, e: ExpectationRecord): Promise<void> {
    await tx.execute(...insertRow('monitor_expectations', EXPECTATION, e));
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
