/** monitor_backfills: resumable jobs running one rule over past entries, with their progress. */
import { Injectable } from '@nestjs/common';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { fromRow, insertRow, int, opt, str, type RecordOf, type Row } from './columns';

const BACKFILL = {
  id: str(),
  ruleId: str(),
  fromIndex: int,
  toIndex: int,
  /** Entries below this were indexed by the evaluator when the job started (index mode reads the index there). */
  indexedTo: int,
  mode: str<'index' | 'scan'>(),
  status: str<'queued' | 'running' | 'done' | 'failed'>(),
  nextIndex: int,
  candidates: opt(int),
  processed: int,
  alerts: int,
  error: opt(str()),
  createdAt: int,
  updatedAt: int,
  finishedAt: opt(int),
};
export type BackfillRecord = RecordOf<typeof BACKFILL>;

export interface BackfillProgress {
  readonly status: BackfillRecord['status'];
  readonly nextIndex: number;
  readonly processedDelta?: number;
  readonly alertsDelta?: number;
  readonly candidates?: number;
  readonly error?: string;
  readonly now: number;
  readonly finished?: boolean;
}

const backfillFromRow = (r: Row): BackfillRecord => fromRow(BACKFILL, r);

@Injectable()
export class BackfillRepository {
  constructor(private readonly db: VellumDatabase) {}

  async insert(tx: SqlTx, b: BackfillRecord): Promise<void> {
    await tx.execute(...insertRow('monitor_backfills', BACKFILL, b));
  }

  async get(id: string): Promise<BackfillRecord | undefined> {
    const rows = await this.db.read('SELECT * FROM monitor_backfills WHERE id = ?', [id]);
    return rows.length === 0 ? undefined : backfillFromRow(rows[0]!);
  }

  /** Newest first. */
  async list(limit = 100): Promise<BackfillRecord[]> {
    const rows = await this.db.read('SELECT * FROM monitor_backfills ORDER BY created_at DESC, id LIMIT ?', [
      limit,
    ]);
    return rows.map(backfillFromRow);
  }

  /** The oldest job not finished yet. */
  async next(): Promise<BackfillRecord | undefined> {
    const rows = await this.db.read(
      "SELECT * FROM monitor_backfills WHERE status IN ('queued', 'running') ORDER BY created_at, id LIMIT 1",
    );
    return rows.length === 0 ? undefined : backfillFromRow(rows[0]!);
  }

  /**
   * Records one chunk's progress, compare-and-set on next_index: false when another worker
   * already recorded this chunk (its alerts must then not be inserted again by this one).
   */
  async update(tx: SqlTx, id: string, u: BackfillProgress, expectedNext: number): Promise<boolean> {
    const n = await tx.execute(
      'UPDATE monitor_backfills SET status = ?, next_index = ?, processed = processed + ?, alerts = alerts + ?, ' +
        'candidates = COALESCE(?, candidates), error = ?, updated_at = ?, finished_at = ? WHERE id = ? AND next_index = ?',
      [
        u.status,
        u.nextIndex,
        u.processedDelta ?? 0,
        u.alertsDelta ?? 0,
        u.candidates ?? null,
        u.error ?? null,
        u.now,
        u.finished ? u.now : null,
        id,
        expectedNext,
      ],
    );
    return n === 1;
  }

  async addAlerts(tx: SqlTx, id: string, n: number): Promise<void> {
    await tx.execute('UPDATE monitor_backfills SET alerts = alerts + ? WHERE id = ?', [n, id]);
  }
}
