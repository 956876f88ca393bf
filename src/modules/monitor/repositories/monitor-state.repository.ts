/**
 * monitor_state (small key/value facts shared by every monitor process: the rules version, the
 * rules file status, the lag episode) and monitor_cursor (the live evaluator's position in the
 * log, with the last checkpoint it verified).
 */
import { Injectable } from '@nestjs/common';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { num } from '../../storage/sql';
import { blob, opt, readVia, str } from './columns';

export interface Cursor {
  readonly nextIndex: number;
  readonly checkpointSize: number;
  readonly checkpointRoot: Buffer | undefined;
  readonly checkpointNote: string | undefined;
  /** Hex subtree roots of the leaves below nextIndex (see CompactRange). */
  readonly compactRange: readonly string[];
  readonly updatedAt: number;
}

const CURSOR = 'live';

const START: Cursor = {
  nextIndex: 0,
  checkpointSize: 0,
  checkpointRoot: undefined,
  checkpointNote: undefined,
  compactRange: [],
  updatedAt: 0,
};

@Injectable()
export class MonitorStateRepository {
  constructor(private readonly db: VellumDatabase) {}

  async getState(key: string, tx?: SqlTx): Promise<string | undefined> {
    const rows = await readVia(this.db, tx)('SELECT value FROM monitor_state WHERE key = ?', [key]);
    return rows.length === 0 ? undefined : String(rows[0]!.value);
  }

  /** Sets `key`, or deletes it when `value` is undefined. */
  async setState(tx: SqlTx, key: string, value: string | undefined): Promise<void> {
    if (value === undefined) {
      await tx.execute('DELETE FROM monitor_state WHERE key = ?', [key]);
      return;
    }
    await tx.execute(
      'INSERT INTO monitor_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async getCursor(): Promise<Cursor> {
    const rows = await this.db.read('SELECT * FROM monitor_cursor WHERE name = ?', [CURSOR]);
    const r = rows[0];
    if (r === undefined) return START;
    return {
      nextIndex: num(r.next_index),
      checkpointSize: num(r.checkpoint_size),
      checkpointRoot: opt(blob).read(r.checkpoint_root),
      checkpointNote: opt(str()).read(r.checkpoint_note),
      compactRange:
        r.compact_range === null || r.compact_range === undefined
          ? []
          : (JSON.parse(String(r.compact_range)) as string[]),
      updatedAt: num(r.updated_at),
    };
  }

  /**
   * Compare-and-set of the cursor: succeeds only if nobody moved it since `expected` was read
   * (two monitor processes never both commit the same batch). Returns false on a lost race.
   */
  async advanceCursor(
    tx: SqlTx,
    expected: Cursor,
    next: Omit<Cursor, 'updatedAt'>,
    now: number,
  ): Promise<boolean> {
    await tx.execute(
      'INSERT INTO monitor_cursor (name, next_index, checkpoint_size, checkpoint_root, checkpoint_note, updated_at) ' +
        'VALUES (?, 0, 0, NULL, NULL, ?) ON CONFLICT (name) DO NOTHING',
      [CURSOR, now],
    );
    const n = await tx.execute(
      'UPDATE monitor_cursor SET next_index = ?, checkpoint_size = ?, checkpoint_root = ?, checkpoint_note = ?, compact_range = ?, updated_at = ? ' +
        'WHERE name = ? AND next_index = ? AND checkpoint_size = ?',
      [
        next.nextIndex,
        next.checkpointSize,
        next.checkpointRoot ?? null,
        next.checkpointNote ?? null,
        JSON.stringify(next.compactRange),
        now,
        CURSOR,
        expected.nextIndex,
        expected.checkpointSize,
      ],
    );
    return n === 1;
  }
}
