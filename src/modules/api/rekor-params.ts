import { VellumError } from '../../core/errors';
import { schemaError } from '../http/http-error';

/**
 * Request decoding the way Rekor's go-swagger server does it, shared by the v1 controllers.
 *
 * Rekor reads a request in two stages, and the stage decides the status:
 *  1. binding: a JSON body is unmarshalled into Go structs. Anything Go's encoding/json refuses (a
 *     string where an array is declared, 1.5 for an int64, an unknown entry kind) is a parse error:
 *     HTTP 400, code 400.
 *  2. validation of the bound values against openapi.yaml: HTTP 422 with a 6xx code (601 type or
 *     format, 602 required, 603/604 length, 605 pattern, 606 enum, 609 minimum, 611/612 items).
 * Only the first failure is answered.
 */

export const TREE_ID_PATTERN = '^[0-9]+$';
const TREE_ID_RE = new RegExp(TREE_ID_PATTERN);
const INT64_MAX = (1n << 63n) - 1n;

/**
 * go-swagger binds a repeated query parameter from its last occurrence (rawData[len-1]), not the
 * first one as Go's url.Values.Get would.
 */
export function lastQueryValue(raw: unknown): unknown {
  return Array.isArray(raw) ? raw[raw.length - 1] : raw;
}

const INT64_MIN = -(1n << 63n);

/**
 * A query parameter declared `integer/int64` in Rekor's OpenAPI, checked the way go-openapi does
 * (same order, same messages, 422 with codes 602 required / 601 type / 609 minimum), read from
 * its last occurrence.
 */
export function int64Query(name: string, raw: unknown, opts: { min: number; def?: number }): number {
  const v = lastQueryValue(raw);
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

/** The optional `treeID` query parameter: empty counts as absent; otherwise it must match the pattern. */
export function treeIdQuery(raw: unknown): string | undefined {
  const v = lastQueryValue(raw);
  if (v === undefined || v === '') return undefined;
  const s = String(v);
  if (!TREE_ID_RE.test(s)) throw schemaError(605, `treeID in query should match '${TREE_ID_PATTERN}'`);
  return s;
}

/**
 * The value of a pattern-valid tree ID as Go's strconv.ParseInt(s, 10, 64) reads it, or undefined
 * when it overflows int64 (Rekor then answers 400 from the handler, not 422 from validation).
 */
export function parseTreeId(s: string): bigint | undefined {
  const n = BigInt(s);
  return n > INT64_MAX ? undefined : n;
}

/** A binding-stage failure of a JSON body parameter (`entry`, `query`): Rekor's 400 parse error. */
export function bodyParseError(param: string, reason: string): VellumError {
  return new VellumError('INVALID_ARGUMENT', `parsing ${param} body from "" failed, because ${reason}`);
}

/** JSON type names as the decode errors name them. */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'object' ? 'object' : typeof v;
}

export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A JSON number that Go decodes into an int64 without error. JSON.parse has already turned the
 * text into a double, so `1.0` and `1e2` (which Go refuses) are indistinguishable from 1 and 100
 * here and are accepted.
 */
export function isInt64Number(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -9223372036854775808 && v < 9223372036854775808;
}
