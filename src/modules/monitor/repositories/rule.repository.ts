/**
 * monitor_rules, and the rules version in monitor_state: every change to the rules bumps it in
 * the same transaction, so another process sees a new version only with the rules that made it.
 */
import { Injectable } from '@nestjs/common';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { fromRow, int, json, readVia, str, type RecordOf, type Row } from './columns';
import { MonitorStateRepository } from './monitor-state.repository';

export type RuleSource = 'api' | 'file';
const RULE = {
  name: str(),
  source: str<RuleSource>(),
  document: json(),
  digest: str(),
  createdAt: int,
  updatedAt: int,
};
export type StoredRule = RecordOf<typeof RULE>;

const RULES_VERSION = 'rules_version';

const ruleFromRow = (r: Row): StoredRule => fromRow(RULE, r);

@Injectable()
export class RuleRepository {
  constructor(
    private readonly db: VellumDatabase,
    private readonly state: MonitorStateRepository,
  ) {}

  async list(tx?: SqlTx): Promise<StoredRule[]> {
    const rows = await readVia(this.db, tx)('SELECT * FROM monitor_rules ORDER BY name');
    return rows.map(ruleFromRow);
  }

  async get(name: string, tx?: SqlTx): Promise<StoredRule | undefined> {
    const rows = await readVia(this.db, tx)('SELECT * FROM monitor_rules WHERE name = ?', [name]);
    return rows.length === 0 ? undefined : ruleFromRow(rows[0]!);
  }

  async upsert(
    tx: SqlTx,
    name: string,
    source: RuleSource,
    document: unknown,
    digest: string,
    now: number,
  ): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_rules (name, source, document, digest, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (name) DO UPDATE SET source = excluded.source, document = excluded.document, ' +
        'digest = excluded.digest, updated_at = excluded.updated_at',
      [name, source, JSON.stringify(document), digest, now, now],
    );
  }

  async delete(tx: SqlTx, name: string): Promise<number> {
    return tx.execute('DELETE FROM monitor_rules WHERE name = ?', [name]);
  }

  /** Committed rules version (0 before any change). */
  async version(): Promise<number> {
    const v = await this.state.getState(RULES_VERSION);
    return v === undefined ? 0 : Number(v);
  }

  async bumpVersion(tx: SqlTx): Promise<void> {
    const v = await this.state.getState(RULES_VERSION, tx);
    await this.state.setState(tx, RULES_VERSION, String((v === undefined ? 0 : Number(v)) + 1));
  }
}
