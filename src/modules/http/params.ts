import { schemaError } from './http-error';

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * A query parameter declared `integer/int64` in Rekor's OpenAPI, checked the way go-openapi does
 * (same order, same messages, 422 with codes 602 required / 601 type / 609 minimum).
 * A repeated parameter is read from its first occurrence, as Go's url.Values.Get does.
 */
export function int64Query(name: string, raw: unknown, opts: { min: number; def?: number }): number {
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v === '') {
    if (opts.def !== undefined) return opts.def;
    throw schemaError(602, `${name} in query is required`);
  }
  const s = String(v);
  if (!/^[+-]?[0-9]+$/.test(s))
    throw schemaError(601, `${name} in query must be of type int64: ${JSON.stringify(s)}`);
  const big = BigInt(s);
  if (big > INT64_MAX || big < INT64_MIN) {
    throw schemaError(601, `${name} in query must be of type int64: ${JSON.stringify(s)}`);
  }
  if (big < BigInt(opts.min))
    throw schemaError(609, `${name} in query should be greater than or equal to ${opts.min}`);
  // Past 2^53 precision is lost, but every such value is far beyond any tree and is treated alike.
  return Number(big);
}

/** First occurrence of an optional string query parameter. */
export function stringQuery(raw: unknown): string | undefined {
  const v = Array.isArray(raw) ? raw[0] : raw;
  return v === undefined ? undefined : String(v);
}
