import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { dueBy, dueTime, offeredCount, parseRateList, percentile, summarize } from '../../src/bench/latency';

/** Nearest-rank percentile by its definition: the smallest value with at least p% of values <= it. */
function oracle(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  for (const v of s) if (s.filter((x) => x <= v).length >= (p / 100) * s.length) return v;
  return s[s.length - 1]!;
}

describe('bench latency arithmetic', () => {
  test('percentile and summarize agree with the nearest-rank definition', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(50, 95, 99, 99.9),
        (values, p) => {
          const s = summarize(Float64Array.from(values));
          const want = oracle(values, p);
          assert.equal(percentile(Float64Array.from(values).sort(), p), want);
          assert.equal(s[({ 50: 'p50', 95: 'p95', 99: 'p99', 99.9: 'p999' } as const)[p as 50]], want);
          assert.equal(s.max, Math.max(...values));
          assert.ok(Math.abs(s.mean - values.reduce((a, b) => a + b, 0) / values.length) < 1e-6);
        },
      ),
    );
    assert.deepEqual(summarize(new Float64Array(0)), {
      count: 0,
      p50: 0,
      p95: 0,
      p99: 0,
      p999: 0,
      max: 0,
      mean: 0,
    });
    assert.equal(summarize(Float64Array.from([5, 1, 9, 3]), 2).max, 5, 'only the first n samples count');
  });

  test('the open-loop schedule: request i is due at start + i/rate, and dueBy counts exactly those due', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        (start, rate, i) => {
          const total = offeredCount(rate, 5);
          const at = dueTime(start, rate, i);
          assert.ok(Math.abs(at - (start + (i * 1000) / rate)) < 1e-6);
          // Just after request i is due, at least i + 1 are due (capped at the step's total) ...
          assert.ok(dueBy(start, rate, at + 1e-6, total) >= Math.min(total, i + 1));
          // ... and just before, request i is not.
          if (i > 0) assert.ok(dueBy(start, rate, at - 1e-3, total) <= i);
        },
      ),
    );
    assert.equal(dueBy(100, 10, 99, 50), 0, 'nothing is due before the step starts');
    assert.equal(offeredCount(2000, 10), 20_000);
    assert.equal(offeredCount(3, 0.5), 2);
  });

  test('rate lists', () => {
    assert.deepEqual(parseRateList('rates', '500, 1000,2000'), [500, 1000, 2000]);
    for (const bad of ['', '0', '-5', '1.5', '500,,1000', 'x'])
      assert.throws(
        () => parseRateList('rates', bad),
        /--rates must be a comma-separated list of positive integers/,
      );
  });
});
