import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { REKOR_KINDS } from '../../src/core/entries';
import { isVellumError, VellumError } from '../../src/core/errors';
import { parseSearchIndexQuery } from '../../src/modules/api/search-index-query';
import { parseSearchLogQuery } from '../../src/modules/entries/search-log-query';

/**
 * The two v1 search bodies are attacker input. Whatever JSON arrives, the decoders answer with a
 * result or with one of the two Rekor outcomes: 400 (Go's encoding/json would refuse the value)
 * or 422 with a go-openapi code. The 400 oracle below is written from Go's decoding rules:
 * null leaves a Go value at its zero, a JSON type other than the Go field's is an error.
 */

type Outcome = { ok: true; value: unknown } | { ok: false; status: 400 | 422; apiCode?: number };

function outcome(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (!isVellumError(e)) throw e;
    const err = e as VellumError;
    if (err.code === 'INVALID_ARGUMENT') return { ok: false, status: 400 };
    assert.equal(err.code, 'SCHEMA_VIOLATION', `unexpected code ${err.code}: ${err.message}`);
    return { ok: false, status: 422, apiCode: err.details?.apiCode as number };
  }
}

const isObj = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown) => v === undefined || v === null;
const KINDS: readonly string[] = REKOR_KINDS;

function goRefusesSearchLogQuery(b: unknown): boolean {
  if (b === null) return false;
  if (!isObj(b)) return true;
  const q = b as Record<string, unknown>;
  const arrayOf = (v: unknown, item: (x: unknown) => boolean) =>
    absent(v) ? false : !Array.isArray(v) || !v.every((x) => x === null || item(x));
  const int64 = (x: unknown) =>
    typeof x === 'number' && Number.isInteger(x) && x >= -(2 ** 63) && x < 2 ** 63;
  const proposed = (x: unknown) => {
    if (!isObj(x)) return false;
    const { kind, apiVersion } = x as Record<string, unknown>;
    return (
      typeof kind === 'string' &&
      KINDS.includes(kind) &&
      (absent(apiVersion) || typeof apiVersion === 'string')
    );
  };
  return (
    arrayOf(q.entryUUIDs, (x) => typeof x === 'string') ||
    arrayOf(q.logIndexes, int64) ||
    // A null entry decodes to a ProposedEntry without kind, which is refused.
    (Array.isArray(q.entries) && q.entries.some((x) => x === null)) ||
    arrayOf(q.entries, proposed)
  );
}

function goRefusesSearchIndex(b: unknown): boolean {
  if (b === null) return false;
  if (!isObj(b)) return true;
  const q = b as Record<string, unknown>;
  const str = (v: unknown) => !absent(v) && typeof v !== 'string';
  if (['email', 'subject', 'hash', 'operator'].some((k) => str(q[k]))) return true;
  if (absent(q.publicKey)) return false;
  if (!isObj(q.publicKey)) return true;
  const { format, content } = q.publicKey as Record<string, unknown>;
  if (str(format) || str(content)) return true;
  // Go's StdEncoding skips CR and LF and does not check the unused bits of the last quantum.
  const b64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  return typeof content === 'string' && !b64.test(content.replace(/[\r\n]/g, ''));
}

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${n}}$`));
const anyJson = fc.jsonValue({ maxDepth: 3 });
/** Values near the interesting shapes, so most runs get past the top level. */
const fieldValue = fc.oneof(
  anyJson,
  fc.constant(null),
  fc.array(fc.oneof(hex(64), fc.integer({ min: -3, max: 20 }), fc.constant(null), anyJson), {
    maxLength: 12,
  }),
  fc.array(
    fc.record(
      {
        kind: fc.oneof(fc.constantFrom(...KINDS, 'foo', ''), anyJson),
        apiVersion: fc.oneof(fc.constant('0.0.1'), anyJson),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 3 },
  ),
);

test('SearchLogQuery: 400 exactly when Go would refuse to decode, otherwise 422 codes or a result', () => {
  const body = fc.oneof(
    anyJson,
    fc.record({ entryUUIDs: fieldValue, logIndexes: fieldValue, entries: fieldValue }, { requiredKeys: [] }),
  );
  fc.assert(
    fc.property(body, (b) => {
      const o = outcome(() => parseSearchLogQuery(b));
      const refuses = goRefusesSearchLogQuery(b);
      assert.equal(!o.ok && o.status === 400, refuses, JSON.stringify(b));
      if (!o.ok && o.status === 422)
        assert.ok([422, 605, 609, 611, 612].includes(o.apiCode as number), String(o.apiCode));
    }),
    { numRuns: 3000 },
  );
});

test('SearchLogQuery: a valid query comes back as sent', () => {
  const query = fc
    .record({
      entryUUIDs: fc.array(fc.oneof(hex(64), hex(80)), { minLength: 1, maxLength: 4 }),
      logIndexes: fc.array(fc.nat({ max: 2 ** 40 }), { minLength: 1, maxLength: 6 }),
    })
    .filter((q) => q.entryUUIDs.length + q.logIndexes.length <= 10);
  fc.assert(
    fc.property(query, (q) => {
      const r = parseSearchLogQuery(JSON.parse(JSON.stringify(q)));
      assert.deepEqual(r, { ...q, entries: [] });
    }),
  );
});

test('SearchIndex: 400 exactly when Go would refuse to decode, otherwise 422 codes or a result', () => {
  const text = fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.constantFrom('a@b', 'and', 'or', 'x509', 'pgp', 'AAAA', 'AB==', 'AA\nAA', '!!'),
    hex(64),
  );
  const v = fc.oneof(text, anyJson, fc.constant(null));
  const body = fc.oneof(
    anyJson,
    fc.record(
      {
        email: v,
        subject: v,
        hash: v,
        operator: v,
        publicKey: fc.oneof(v, fc.record({ format: v, content: v }, { requiredKeys: [] })),
      },
      { requiredKeys: [] },
    ),
  );
  fc.assert(
    fc.property(body, (b) => {
      const o = outcome(() => parseSearchIndexQuery(b));
      assert.equal(!o.ok && o.status === 400, goRefusesSearchIndex(b), JSON.stringify(b));
      if (!o.ok && o.status === 422)
        assert.ok([601, 602, 603, 605, 606].includes(o.apiCode as number), String(o.apiCode));
      if (o.ok) {
        const r = o.value as { operator: string; hash?: string };
        assert.ok(r.operator === 'and' || r.operator === 'or');
        if (r.hash !== undefined) assert.match(r.hash, /^(sha(1|256|512):)?[0-9a-fA-F]+$/);
      }
    }),
    { numRuns: 3000 },
  );
});
