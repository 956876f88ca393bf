import { REKOR_KINDS } from '../../core/entries';
import { schemaError } from '../http/http-error';
import { UUID_PATTERN } from '../api/openapi-schemas';
import { bodyParseError, isInt64Number, isJsonObject, jsonTypeName } from '../api/rekor-params';
import { isUuid } from './entry-views';

export const MAX_SEARCH_ITEMS = 10;

/** The kinds Rekor's ProposedEntry discriminator knows; any other is refused while decoding. */
const REKOR_KIND_SET: ReadonlySet<string> = new Set(REKOR_KINDS);

/** A decoded and validated `POST /api/v1/log/entries/retrieve` body (Rekor's SearchLogQuery). */
export interface SearchLogQuery {
  readonly entryUUIDs: readonly string[];
  readonly logIndexes: readonly number[];
  readonly entries: readonly Record<string, unknown>[];
}

/**
 * Rekor's two stages for SearchLogQuery (see rekor-params.ts): first everything encoding/json
 * would refuse (400), then the openapi.yaml bounds (422) in the generated Validate's order
 * (entries, entryUUIDs, logIndexes), then the handler's limit on the total.
 * The proposed entries' own schemas are checked later, by the entry parser.
 */
export function parseSearchLogQuery(body: unknown): SearchLogQuery {
  if (body === undefined) throw schemaError(602, 'entry in body is required');
  const q = decode(body);
  if (q.entries.length > MAX_SEARCH_ITEMS)
    throw schemaError(611, `entries in body should have at most ${MAX_SEARCH_ITEMS} items`);
  if (q.entryUUIDs !== undefined) {
    checkItemCount('entryUUIDs', q.entryUUIDs.length);
    q.entryUUIDs.forEach((u, i) => {
      if (!isUuid(u)) throw schemaError(605, `entryUUIDs.${i} in body should match '${UUID_PATTERN}'`);
    });
  }
  if (q.logIndexes !== undefined) {
    checkItemCount('logIndexes', q.logIndexes.length);
    q.logIndexes.forEach((n, i) => {
      if (n < 0) throw schemaError(609, `logIndexes.${i} in body should be greater than or equal to 0`);
    });
  }
  const entryUUIDs = q.entryUUIDs ?? [];
  const logIndexes = q.logIndexes ?? [];
  if (entryUUIDs.length + logIndexes.length + q.entries.length > MAX_SEARCH_ITEMS) {
    throw schemaError(422, `more than max allowed ${MAX_SEARCH_ITEMS} entries in request`);
  }
  return { entryUUIDs, logIndexes, entries: q.entries };
}

interface Decoded {
  entryUUIDs?: string[];
  logIndexes?: number[];
  entries: Record<string, unknown>[];
}

function decode(body: unknown): Decoded {
  // JSON null decodes into Go's zero SearchLogQuery: a query for nothing.
  if (body === null) return { entries: [] };
  if (!isJsonObject(body))
    throw bodyParseError('entry', `a JSON ${jsonTypeName(body)} cannot be a SearchLogQuery object`);
  const out: Decoded = { entries: [] };

  const uuids = arrayField(body, 'entryUUIDs');
  if (uuids !== undefined) {
    out.entryUUIDs = uuids.map((u, i) => {
      // null leaves Go's string at "", which then fails the pattern.
      if (u === null) return '';
      if (typeof u !== 'string') throw itemTypeError('entryUUIDs', i, u, 'string');
      return u;
    });
  }

  const indexes = arrayField(body, 'logIndexes');
  if (indexes !== undefined) {
    out.logIndexes = indexes.map((n, i) => {
      // Rekor binds logIndexes as []*int64: null skips validation and is then read as index 0.
      if (n === null) return 0;
      if (!isInt64Number(n)) throw itemTypeError('logIndexes', i, n, 'int64');
      return n;
    });
  }

  const entries = arrayField(body, 'entries');
  if (entries !== undefined) {
    out.entries = entries.map((e, i) => {
      if (!isJsonObject(e)) throw itemTypeError('entries', i, e, 'ProposedEntry');
      const kind = e.kind;
      if (kind !== undefined && kind !== null && typeof kind !== 'string')
        throw itemTypeError(`entries.${i}.kind`, undefined, kind, 'string');
      if (kind === undefined || kind === null || kind === '')
        throw bodyParseError('entry', 'kind in body is required');
      if (!REKOR_KIND_SET.has(kind))
        throw bodyParseError('entry', `invalid kind value: ${JSON.stringify(kind)}`);
      const v = e.apiVersion;
      if (v !== undefined && v !== null && typeof v !== 'string')
        throw itemTypeError(`entries.${i}.apiVersion`, undefined, v, 'string');
      return e;
    });
  }
  return out;
}

/** An optional array field; null is absent, as for Go's nil slice. */
function arrayField(body: Record<string, unknown>, name: string): unknown[] | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v))
    throw bodyParseError('entry', `cannot unmarshal ${jsonTypeName(v)} into ${name} (an array)`);
  return v;
}

function itemTypeError(name: string, i: number | undefined, v: unknown, goType: string) {
  const at = i === undefined ? name : `${name}.${i}`;
  return bodyParseError('entry', `cannot unmarshal ${jsonTypeName(v)} into ${at} of type ${goType}`);
}

function checkItemCount(name: string, n: number): void {
  if (n < 1) throw schemaError(612, `${name} in body should have at least 1 items`);
  if (n > MAX_SEARCH_ITEMS)
    throw schemaError(611, `${name} in body should have at most ${MAX_SEARCH_ITEMS} items`);
}
