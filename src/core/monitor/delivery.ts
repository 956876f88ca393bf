/**
 * Webhook delivery policy (docs/monitoring.md, "Webhooks"): retry schedule with jitter, response
 * classification. Pure: time and randomness come in as arguments.
 */
import { VellumError } from '../errors';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;

/**
 * Delay before attempt n (index n-1): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h,
 * 24 h — about 3 days in all (the Standard Webhooks example schedule).
 */
export const RETRY_SCHEDULE_MS: readonly number[] = [
  0,
  5 * S,
  5 * MIN,
  30 * MIN,
  2 * H,
  5 * H,
  10 * H,
  14 * H,
  20 * H,
  24 * H,
];
export const MAX_DELIVERY_ATTEMPTS = RETRY_SCHEDULE_MS.length;

export interface RetryOptions {
  /** Uniform random source in [0, 1) for jitter (inject crypto- or test-backed randomness). */
  readonly random: () => number;
  /** Now (epoch ms): needed only to honour an HTTP-date `Retry-After`. */
  readonly nowMs?: number;
  /** Jitter as a fraction of the delay, applied ±; default 0.1. */
  readonly jitter?: number;
  /** Upper bound on a honoured `Retry-After` (a hostile receiver cannot park deliveries); default 24 h. */
  readonly maxRetryAfterMs?: number;
}

/** Parses `Retry-After` (delta-seconds or HTTP-date) to milliseconds from now; undefined if absent or invalid. */
export function parseRetryAfterMs(header: string | undefined, nowMs?: number): number | undefined {
  if (header === undefined) return undefined;
  const h = header.trim();
  if (/^[0-9]{1,10}$/.test(h)) return Number(h) * S;
  if (
    nowMs === undefined ||
    !/^[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$/.test(h)
  ) {
    return undefined;
  }
  const t = Date.parse(h);
  if (!Number.isFinite(t)) return undefined;
  return Math.max(0, t - nowMs);
}

/**
 * Delay in ms before delivery attempt `attempt` (1-based: attempt 1 is the first delivery, sent
 * immediately), or null when the schedule is exhausted (give up; disable the endpoint and tell its
 * owner another way). `retryAfterHeader` is the `Retry-After` of the previous failed response:
 * the delay is never shorter than it (capped at `maxRetryAfterMs`).
 */
export function nextAttemptDelayMs(
  attempt: number,
  retryAfterHeader: string | undefined,
  opts: RetryOptions,
): number | null {
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new VellumError('INVALID_ARGUMENT', 'attempt must be an integer >= 1');
  }
  if (attempt > MAX_DELIVERY_ATTEMPTS) return null;
  const base = RETRY_SCHEDULE_MS[attempt - 1]!;
  const jitter = opts.jitter ?? 0.1;
  if (!(jitter >= 0 && jitter < 1)) throw new VellumError('INVALID_ARGUMENT', 'jitter must be in [0, 1)');
  const r = opts.random();
  if (!(r >= 0 && r < 1))
    throw new VellumError('INVALID_ARGUMENT', 'random() must return a number in [0, 1)');
  let delay = Math.round(base * (1 + jitter * (2 * r - 1)));
  if (attempt > 1) {
    const ra = parseRetryAfterMs(retryAfterHeader, opts.nowMs);
    if (ra !== undefined) delay = Math.max(delay, Math.min(ra, opts.maxRetryAfterMs ?? 24 * H));
  }
  return delay;
}

/**
 * What a delivery response means for the outbox:
 * - `ok`: 2xx, delivered;
 * - `failure-no-follow`: 3xx, redirects are never followed; retried on schedule;
 * - `disable`: 410 Gone, disable the endpoint now;
 * - `throttle`: 429, 502, 504, the receiver is overloaded; retry, honouring `Retry-After`;
 * - `retry`: anything else (other 4xx/5xx, 1xx, or no response: pass `undefined` for network errors and timeouts).
 */
export type DeliveryClass = 'ok' | 'failure-no-follow' | 'disable' | 'throttle' | 'retry';

export function classifyDeliveryResponse(status: number | undefined): DeliveryClass {
  if (status === undefined || !Number.isInteger(status)) return 'retry';
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 300 && status < 400) return 'failure-no-follow';
  if (status === 410) return 'disable';
  if (status === 429 || status === 502 || status === 504) return 'throttle';
  return 'retry';
}
