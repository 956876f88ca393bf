/** monitor_backfills: resumable jobs running one rule over past entries, with their progress. */
import { Injectable } from '@nestjs/common';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { num, placeholders } from '../../storage/sql';
import { optNum, optStr, type Row } from './columns';

export interface BackfillRecord {
  readonly id: string;
  readonly ruleId: string;
  readonly fromIndex: number;
  readonly toIndex: number;
  /** Entries below this were indexed by the evaluator when the job started (index mode reads the index there). */
  readonly indexedTo: number;
  readonly mode: 'index' | 'scan';
  readonly status: 'queued' | 'running' | 'done' | 'failed';
  readonly nextIndex: number;
  readonly candidates?: number;
  readonly processed: number;
  readonly alerts: number;
  readonly error?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt?: number;
}

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

function backfillFromRow(r: Row): BackfillRecord {
  return {
    id: String(r.id),
    ruleId: String(r.rule_id),
    fromIndex: num(r.from_index),
    toIndex: num(r.to_index),
    indexedTo: num(r.indexed_to),
    mode: String(r.mode) as BackfillRecord['mode'],
    status: String(r.status) as BackfillRecord['status'],
    nextIndex: num(r.next_index),
    candidates: optNum(r.candidates),
    processed: num(r.processed),
    alerts: num(r.alerts),
    error: optStr(r.error),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    finishedAt: optNum(r.finished_at),
  };
}

@Injectable()
export class BackfillRepository {
  constructor(private readonly db: VellumDatabase) {}

  async insert(tx: SqlTx, b: BackfillRecord): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_backfills (id, rule_id, from_index, to_index, indexed_to, mode, status, next_index, candidates, processed, alerts, error, created_at, updated_at) ' +
        `VALUES (${placeholders(14)})`,
      [
        b.id,
        b.ruleId,
        b.fromIndex,
        b.toIndex,
        b.indexedTo,
        b.mode,
        b.status,
        b.nextIndex,
        b.candidates ?? null,
        b.processed,
        b.alerts,
        b.error ?? null,
        b.createdAt,
        b.updatedAt,
      ],
    );
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
