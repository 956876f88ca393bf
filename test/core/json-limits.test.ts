import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isVellumError } from '../../src/core/errors';
import { jsonNestingDepth, MAX_JSON_DEPTH, requireJsonDepth } from '../../src/core/json-limits';

/** Slow oracle: the nesting depth of the value JSON.parse builds, by recursion. */
function parsedDepth(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
  return 1 + children.reduce<number>((m, c) => Math.max(m, parsedDepth(c)), 0);
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

test('the linear scan agrees with the depth of the parsed value, strings with brackets included', () => {
  // Strings full of brackets, quotes and backslashes make sure only structure is counted.
  const tricky = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', 'é', '\u2028') });
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      tricky,
      fc.integer(),
      fc.constant(null),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(tricky, tie('node'), { maxKeys: 4 }),
    ),
  })).node;
  fc.assert(
    fc.property(value, fc.boolean(), (v, pretty) => {
      const text = pretty ? JSON.stringify(v, null, 2) : JSON.stringify(v);
      assert.equal(jsonNestingDepth(utf8(text)), parsedDepth(JSON.parse(text)), text);
    }),
    { numRuns: 2000 },
  );
});

test('requireJsonDepth accepts the limit and refuses one more level, without recursion', () => {
  const nest = (n: number) => utf8('{"a":'.repeat(n) + '1' + '}'.repeat(n));
  const arrays = (n: number) => utf8('['.repeat(n) + ']'.repeat(n));
  requireJsonDepth(nest(MAX_JSON_DEPTH));
  requireJsonDepth(arrays(MAX_JSON_DEPTH));
  for (const body of [nest(MAX_JSON_DEPTH + 1), arrays(MAX_JSON_DEPTH + 1), arrays(1_000_000)]) {
    assert.throws(
      () => requireJsonDepth(body),
      (e: unknown) => isVellumError(e, 'INVALID_ARGUMENT') && /nested deeper than 64/.test(e.message),
    );
  }
  // Unclosed or over-closed text is left to JSON.parse, but is never counted deeper than it opens.
  assert.equal(jsonNestingDepth(utf8(']]]]{')), 1);
  assert.equal(jsonNestingDepth(utf8('"[[[[')), 0);
  assert.equal(jsonNestingDepth(utf8('["\\"[", [1]]')), 2);
});
