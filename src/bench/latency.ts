/**
 * The arithmetic of the benches, kept apart from any socket or clock so it can be tested: the
 * open-loop schedule and latency summaries.
 *
 * Open loop: request i of a step is due at `start + i / rate`, whether or not earlier requests
 * have returned, and its latency is counted from that due time, not from when the driver got
 * round to sending it. A driver (or server) that falls behind therefore shows up as latency
 * instead of silently lowering the offered rate: the "coordinated omission" a closed loop hides.
 */

export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile of ascending `sorted` (0 when empty). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summary of the first `n` values of `samples` (sorted in place). */
export function summarize(samples: Float64Array, n = samples.length): LatencySummary {
  const s = samples.subarray(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  return {
    count: n,
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: n ? s[n - 1]! : 0,
    mean: n ? sum / n : 0,
  };
}

/** When request `i` of an open-loop step offering `ratePerSec` from `startMs` is due (ms). */
export function dueTime(startMs: number, ratePerSec: number, i: number): number {
  return startMs + (i * 1000) / ratePerSec;
}

/** How many requests an open-loop step offers in `durationSec` (those due before its end). */
export function offeredCount(ratePerSec: number, durationSec: number): number {
  return Math.ceil(ratePerSec * durationSec);
}

/** How many requests are due by `nowMs` in a step that started at `startMs` (capped at `total`). */
export function dueBy(startMs: number, ratePerSec: number, nowMs: number, total: number): number {
  if (nowMs < startMs) return 0;
  return Math.min(total, Math.floor(((nowMs - startMs) * ratePerSec) / 1000) + 1);
}

/** Parses "500,1000,2000" into positive integers; throws on anything else. */
export function parseRateList(name: string, text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const out = parts.map((p) => (/^[1-9][0-9]*$/.test(p) ? Number(p) : NaN));
  if (out.length === 0 || out.some((n) => !Number.isSafeInteger(n)))
    throw new Error(`--${name} must be a comma-separated list of positive integers, got "${text}"`);
  return out;
}
