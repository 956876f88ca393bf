/**
 * The SQL of the log tables, shared by the sequencer (inside its transaction) and the reader
 * (committed reads). Each function takes the query function to run on.
 */
import type { StoredTile } from '../../core/merkle/tile-store';
import type { SignedCheckpoint, StoredEntry } from '../log/log.types';
import type { Row } from './database';
import { bytes, chunkRows, num, placeholders, valuesList } from './sql';

export type QueryFn = <T = Row>(sql: string, params?: readonly unknown[]) => Promise<T[]>;

/** Rows per multi-row statement and bytes bound per statement; well inside SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const ENTRY_ROWS = 1000;
const KEY_ROWS = 10_000;
const TILE_ROWS = 200;
const LOOKUP_KEYS = 10_000;
const MAX_STATEMENT_BYTES = 16 * 1024 * 1024;

export const ENTRY_COLUMNS = 'idx, leaf_hash, body, kind, api_version, integrated_time, set_sig';

export function entryFromRow(r: Row): StoredEntry {
  return {
    index: num(r.idx),
    leafHash: bytes(r.leaf_hash),
    body: bytes(r.body),
    kind: String(r.kind),
    apiVersion: String(r.api_version),
    integratedTime: num(r.integrated_time),
    set: bytes(r.set_sig),
  };
}

export async function latestCheckpoint(q: QueryFn): Promise<SignedCheckpoint | undefined> {
  const rows = await q('SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1');
  const r = rows[0];
  return r === undefined ? undefined : { size: num(r.size), rootHash: bytes(r.root), note: String(r.note) };
}

/** The signed roots of the checkpoints committed at exactly these sizes (absent sizes are left out). */
export async function checkpointRootsAt(q: QueryFn, sizes: readonly number[]): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  if (sizes.length === 0) return out;
  const rows = await q(
    `SELECT size, root FROM checkpoints WHERE size IN (${sizes.map(() => '?').join(', ')})`,
    [...sizes],
  );
  for (const r of rows) out.set(num(r.size), bytes(r.root));
  return out;
}

/** Largest stored entry index, or -1 for none. */
export async function maxEntryIndex(q: QueryFn): Promise<number> {
  const rows = await q('SELECT MAX(idx) AS m FROM entries');
  const m = rows[0]?.m;
  return m === null || m === undefined ? -1 : num(m);
}

/**
 * The canonical bodies of entries first .. first+count-1 in index order, stopping at the first gap
 * (so a short result means the range is not all stored).
 */
export async function entryBodiesInRange(q: QueryFn, first: number, count: number): Promise<Buffer[]> {
  const rows = await q('SELECT idx, body FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx', [
    first,
    first + count,
  ]);
  const bodies: Buffer[] = [];
  for (const r of rows) {
    if (num(r.idx) !== first + bodies.length) break;
    bodies.push(bytes(r.body));
  }
  return bodies;
}

/** Stored index of each given leaf hash that is already in the log, keyed by lowercase hex. */
export async function findStoredLeaves(
  q: QueryFn,
  leafHashes: readonly Buffer[],
): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (let i = 0; i < leafHashes.length; i += LOOKUP_KEYS) {
    const part = leafHashes.slice(i, i + LOOKUP_KEYS);
    const rows = await q(
      `SELECT idx, leaf_hash FROM entries WHERE leaf_hash IN (${placeholders(part.length)})`,
      part,
    );
    for (const r of rows) found.set(bytes(r.leaf_hash).toString('hex'), num(r.idx));
  }
  return found;
}

/** Full stored rows with first <= idx < end, in index order (a gap shows as a missing index). */
export async function entriesInRange(q: QueryFn, first: number, end: number): Promise<StoredEntry[]> {
  const rows = await q(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx`, [
    first,
    end,
  ]);
  return rows.map(entryFromRow);
}

/** Full stored rows at the given indices (any order). */
export async function findStoredEntries(q: QueryFn, indices: readonly number[]): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  for (let i = 0; i < indices.length; i += LOOKUP_KEYS) {
    const part = indices.slice(i, i + LOOKUP_KEYS);
    const rows = await q(
      `SELECT ${ENTRY_COLUMNS} FROM entries WHERE idx IN (${placeholders(part.length)})`,
      part,
    );
    for (const r of rows) out.push(entryFromRow(r));
  }
  return out;
}

export interface NewEntry extends StoredEntry {
  readonly indexKeys: readonly string[];
}

export async function insertEntries(q: QueryFn, entries: readonly NewEntry[]): Promise<void> {
  for (const part of chunkRows(entries, ENTRY_ROWS, MAX_STATEMENT_BYTES, (e) => e.body.length + 200)) {
    const params: unknown[] = [];
    for (const e of part) {
      params.push(e.index, e.leafHash, e.body, e.kind, e.apiVersion, e.integratedTime, e.set);
    }
    await q(`INSERT INTO entries (${ENTRY_COLUMNS}) VALUES ${valuesList(part.length, 7)}`, params);
  }
  const keys: Array<[string, number]> = [];
  for (const e of entries) {
    for (const k of new Set(e.indexKeys)) keys.push([k, e.index]);
  }
  for (const part of chunkRows(keys, KEY_ROWS, MAX_STATEMENT_BYTES, (k) => k[0].length + 16)) {
    await q(`INSERT INTO index_keys (key, leaf_idx) VALUES ${valuesList(part.length, 2)}`, part.flat());
  }
}

export async function upsertTiles(q: QueryFn, tiles: readonly StoredTile[]): Promise<void> {
  for (const part of chunkRows(tiles, TILE_ROWS, MAX_STATEMENT_BYTES, (t) => t.nodes.length + 32)) {
    const params: unknown[] = [];
    for (const t of part) params.push(t.level, t.index, t.width, t.nodes);
    await q(
      `INSERT INTO tiles (level, idx, width, nodes) VALUES ${valuesList(part.length, 4)} ` +
        'ON CONFLICT (level, idx) DO UPDATE SET width = excluded.width, nodes = excluded.nodes',
      params,
    );
  }
}

export async function insertCheckpoint(q: QueryFn, cp: SignedCheckpoint, createdAtMs: number): Promise<void> {
  await q('INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)', [
    cp.size,
    cp.rootHash,
    cp.note,
    createdAtMs,
  ]);
}

/** Leaf hashes of entries carrying any (`or`) or all (`and`) of `keys`, in log order. */
export async function searchIndex(
  q: QueryFn,
  keys: readonly string[],
  operator: 'and' | 'or',
): Promise<Buffer[]> {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return [];
  const rows =
    operator === 'or' || unique.length === 1
      ? await q(
          'SELECT e.leaf_hash FROM entries e WHERE e.idx IN ' +
            `(SELECT k.leaf_idx FROM index_keys k WHERE k.key IN (${placeholders(unique.length)})) ORDER BY e.idx`,
          unique,
        )
      : await q(
          'SELECT e.leaf_hash FROM entries e WHERE e.idx IN ' +
            `(SELECT k.leaf_idx FROM index_keys k WHERE k.key IN (${placeholders(unique.length)}) ` +
            'GROUP BY k.leaf_idx HAVING COUNT(*) = ?) ORDER BY e.idx',
          [...unique, unique.length],
        );
  return rows.map((r) => bytes(r.leaf_hash));
}

/** When the log's first checkpoint (the empty tree's) was stored, in ms; undefined before first boot. */
export async function logCreatedAtMs(q: QueryFn): Promise<number | undefined> {
  const rows = await q('SELECT created_at FROM checkpoints ORDER BY size ASC LIMIT 1');
  return rows[0] === undefined ? undefined : num(rows[0].created_at);
}
