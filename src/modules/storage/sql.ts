/**
 * Small SQL helpers shared by the storage, sequencer and log modules. All Vellum SQL is written
 * once with `?` placeholders and runs unchanged on SQLite and PostgreSQL; only the placeholder
 * syntax and the integer/bytes decoding differ.
 */

export type Dialect = 'sqlite' | 'postgres';

/** `?` -> `$1, $2, ...` for PostgreSQL. Vellum's SQL never has `?` inside string literals. */
export function toDialect(sql: string, dialect: Dialect): string {
  if (dialect === 'sqlite') return sql;
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** `(?, ?, ?), (?, ?, ?)` for a multi-row INSERT. */
export function valuesList(rows: number, columns: number): string {
  const one = `(${new Array<string>(columns).fill('?').join(', ')})`;
  return new Array<string>(rows).fill(one).join(', ');
}

/** `?, ?, ?` for an IN list. */
export function placeholders(n: number): string {
  return new Array<string>(n).fill('?').join(', ');
}

/**
 * A 64-bit integer column as a JS number. PostgreSQL BIGINT arrives as a string (pg does not
 * guess), SQLite INTEGER as a number. Indices and sizes stay far below 2^53.
 */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^-?[0-9]+$/.test(v)) return Number(v);
  throw new TypeError(`expected an integer column, got ${typeof v}`);
}

/** A BLOB/BYTEA column as a Buffer (both drivers already return Buffers; this narrows the type). */
export function bytes(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(`expected a bytes column, got ${typeof v}`);
}

/**
 * Splits rows into chunks for multi-row statements: at most `maxRows` rows and, once a chunk is
 * non-empty, at most about `maxBytes` of payload, so one statement never binds hundreds of MB.
 */
export function chunkRows<T>(
  rows: readonly T[],
  maxRows: number,
  maxBytes: number,
  size: (row: T) => number,
): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let curBytes = 0;
  for (const r of rows) {
    const s = size(r);
    if (cur.length > 0 && (cur.length >= maxRows || curBytes + s > maxBytes)) {
      out.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(r);
    curBytes += s;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
