/**
 * Row codecs shared by the monitor repositories: one table of columns per record maps rows to
 * records and records to INSERT parameters, so a record's fields are listed once. Column names
 * are the fields in snake_case. Nullable columns come back as null from both drivers; BIGINT
 * arrives as a string from pg (see `num`).
 */
import type { SqlTx, VellumDatabase } from '../../storage/database';
import { bytes, num, placeholders } from '../../storage/sql';

export type Row = Record<string, unknown>;

/** Reads what `tx` sees when given (read-modify-write inside it), else committed data. */
export const readVia =
  (db: VellumDatabase, tx?: SqlTx) =>
  (sql: string, params?: readonly unknown[]): Promise<Row[]> =>
    tx ? tx.query(sql, params) : db.read(sql, params);

/** How one column is read and written; `optional` columns are NULL for an absent field. */
export interface Column<T, O extends boolean = boolean> {
  readonly optional: O;
  read(v: unknown): T;
  write(v: T): unknown;
}

const column = <T>(read: (v: unknown) => T, write: (v: T) => unknown = (v) => v): Column<T, false> => ({
  optional: false,
  read,
  write,
});

/** The nullable form of a column. */
export const opt = <T>(c: Column<T, false>): Column<T, true> => ({
  optional: true,
  read: (v) => (v === null || v === undefined ? (undefined as T) : c.read(v)),
  write: (v) => (v === undefined ? null : c.write(v)),
});

export const str = <T extends string = string>(): Column<T, false> => column((v) => String(v) as T);
export const int = column(num);
export const bool = column(
  (v) => num(v) === 1,
  (v: boolean) => (v ? 1 : 0),
);
export const blob = column(bytes);
/** A JSON text column. */
export const json = <T = unknown>(): Column<T, false> =>
  column(
    (v) => JSON.parse(String(v)) as T,
    (v) => JSON.stringify(v),
  );

export type Columns = Record<string, Column<unknown>>;
type ValueOf<C> = C extends Column<infer T> ? T : never;

/** The record a column table describes: optional columns are optional fields. */
export type RecordOf<S extends Columns> = {
  readonly [K in keyof S as S[K]['optional'] extends true ? never : K]: ValueOf<S[K]>;
} & {
  readonly [K in keyof S as S[K]['optional'] extends true ? K : never]?: ValueOf<S[K]>;
};

const snake = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function fromRow<S extends Columns>(columns: S, r: Row): RecordOf<S> {
  const out: Row = {};
  for (const [field, c] of Object.entries(columns)) out[field] = c.read(r[snake(field)]);
  return out as RecordOf<S>;
}

/** `INSERT INTO table (every column) VALUES (...)` and its parameters, taken from `record`. */
export function insertRow<S extends Columns>(
  table: string,
  columns: S,
  record: RecordOf<S>,
): [sql: string, params: unknown[]] {
  const fields = Object.keys(columns);
  const values = record as Row;
  return [
    `INSERT INTO ${table} (${fields.map(snake).join(', ')}) VALUES (${placeholders(fields.length)})`,
    fields.map((f) => columns[f]!.write(values[f])),
  ];
}
