/**
 * Column decoding shared by the monitor repositories. Nullable columns come back as null from
 * both drivers; BIGINT arrives as a string from pg (see `num`).
 */
import { num } from '../../storage/sql';

export type Row = Record<string, unknown>;

export const optNum = (v: unknown): number | undefined =>
  v === null || v === undefined ? undefined : num(v);
export const optStr = (v: unknown): string | undefined =>
  v === null || v === undefined ? undefined : String(v);
/** A nullable JSON text column. */
export const optJson = (v: unknown): unknown =>
  v === null || v === undefined ? undefined : JSON.parse(String(v));
