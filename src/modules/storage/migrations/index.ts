import type { MigrationInterface } from 'typeorm';
import { InitialSchema1760000000000 } from './1760000000000-initial-schema';

export type MigrationClass = new () => MigrationInterface;

/** Storage's own tables: entries, index keys, tiles, checkpoints, meta, the sequencer lease. */
export const LOG_MIGRATIONS: readonly MigrationClass[] = [InitialSchema1760000000000];

/** The 13-digit millisecond timestamp TypeORM reads from the end of a migration's class name. */
function timestampOf(m: MigrationClass): number {
  const match = /(\d{13})$/.exec(m.name);
  if (match === null) throw new Error(`migration ${m.name} has no 13-digit timestamp at the end of its name`);
  return Number(match[1]);
}

/**
 * Storage's migrations plus the ones other modules register (a module's tables are its own; the
 * role table collects them), oldest first. TypeORM orders by the same timestamp; sorting here
 * makes the order visible and rejects two migrations claiming one timestamp, which TypeORM would
 * run in an arbitrary order.
 */
export function collectMigrations(registered: readonly MigrationClass[] = []): MigrationClass[] {
  const all = [...new Set([...LOG_MIGRATIONS, ...registered])].sort(
    (a, b) => timestampOf(a) - timestampOf(b),
  );
  for (let i = 1; i < all.length; i++) {
    if (timestampOf(all[i]!) === timestampOf(all[i - 1]!))
      throw new Error(`migrations ${all[i - 1]!.name} and ${all[i]!.name} share one timestamp`);
  }
  return all;
}
