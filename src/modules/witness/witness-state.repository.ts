import { Injectable } from '@nestjs/common';
import type { Checkpoint } from '../../core/checkpoint';
import type { WitnessState } from '../../core/witness/add-checkpoint';
import { VellumDatabase } from '../storage/database';
import { bytes, num } from '../storage/sql';

export interface StoredWitnessCheckpoint extends WitnessState {
  readonly note: string;
}

/** witness_checkpoints and witness_refusals (see the migration). */
@Injectable()
export class WitnessStateRepository {
  constructor(private readonly db: VellumDatabase) {}

  async all(): Promise<Map<string, StoredWitnessCheckpoint>> {
    const rows = await this.db.read('SELECT origin, size, root_hash, note FROM witness_checkpoints');
    return new Map(
      rows.map((r) => [
        String(r.origin),
        { size: num(r.size), rootHash: bytes(r.root_hash), note: String(r.note) },
      ]),
    );
  }

  /**
   * Stores `cp` for its origin if the row still holds `expected` (absent = no row yet); false when
   * another request changed it first. The one write path of the table.
   */
  async compareAndSet(
    cp: Checkpoint,
    note: string,
    expected: WitnessState | undefined,
    now: number,
  ): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if (expected === undefined) {
        const n = await tx.execute(
          'INSERT INTO witness_checkpoints (origin, size, root_hash, note, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO NOTHING',
          [cp.origin, cp.size, cp.rootHash, note, now],
        );
        return n === 1;
      }
      const n = await tx.execute(
        'UPDATE witness_checkpoints SET size = ?, root_hash = ?, note = ?, updated_at = ? WHERE origin = ? AND size = ? AND root_hash = ?',
        [cp.size, cp.rootHash, note, now, cp.origin, expected.size, expected.rootHash],
      );
      return n === 1;
    });
  }

  async recordRefusal(
    origin: string,
    reason: string,
    note: string,
    storedNote: string | undefined,
    now: number,
  ): Promise<void> {
    await this.db.transaction((tx) =>
      tx.execute(
        'INSERT INTO witness_refusals (origin, reason, note, stored_note, created_at) VALUES (?, ?, ?, ?, ?)',
        [origin, reason, note, storedNote ?? null, now],
      ),
    );
  }

  async refusals(origin: string): Promise<Array<{ reason: string; note: string }>> {
    const rows = await this.db.read(
      'SELECT reason, note FROM witness_refusals WHERE origin = ? ORDER BY id',
      [origin],
    );
    return rows.map((r) => ({ reason: String(r.reason), note: String(r.note) }));
  }
}
