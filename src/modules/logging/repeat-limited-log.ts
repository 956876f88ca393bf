/** The part of a Nest Logger this needs (tests pass a recorder). */
export interface WarnLogger {
  warn(message: unknown): void;
  error(message: unknown): void;
}

/** Clock and timer, injectable so the window can be tested without waiting. */
export interface LogClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { unref?(): unknown };
}

const systemClock: LogClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
};

interface Window {
  readonly level: 'warn' | 'error';
  readonly message: string;
  readonly startedAt: number;
  repeats: number;
}

/**
 * Logs each distinct message at most once per window, then one summary line with the count:
 * "<message> (repeated 312 times in the last 10 s)". A failing dependency (a full disk, a
 * database or Redis that is down) fails every request and every retry the same way; logging each
 * one writes thousands of lines, often onto the very disk that is full.
 *
 * Messages are keyed by their text. At most `maxKeys` windows are open at once, plus one
 * overflow window per level that every further distinct message shares.
 */
/** The key of the window distinct messages share once the table is full. */
const OVERFLOW = '\u0000overflow';

export class RepeatLimitedLog {
  private readonly open = new Map<string, Window>();

  constructor(
    private readonly logger: WarnLogger,
    private readonly windowMs = 10_000,
    private readonly clock: LogClock = systemClock,
    private readonly maxKeys = 256,
  ) {}

  /** `first`, when given, is logged instead of `message` for the first of a window (it may carry a request id). */
  warn(message: string, first?: unknown): void {
    this.emit('warn', message, first);
  }

  error(message: string, first?: unknown): void {
    this.emit('error', message, first);
  }

  private emit(level: 'warn' | 'error', message: string, first: unknown): void {
    const overflow = message === OVERFLOW;
    const key = `${level}\u0000${message}`;
    const w = this.open.get(key);
    if (w !== undefined) {
      w.repeats++;
      return;
    }
    if (!overflow && this.open.size >= this.maxKeys) {
      // Texts can quote attacker input: past the table's size, distinct messages share one
      // overflow window per level (the first is logged, the rest counted), so neither memory
      // nor the log grows with them.
      this.emit(level, OVERFLOW, first ?? message);
      return;
    }
    this.logger[level](first ?? message);
    this.open.set(key, { level, message, startedAt: this.clock.now(), repeats: 0 });
    const timer = this.clock.setTimeout(() => this.close(key), this.windowMs);
    timer.unref?.();
  }

  /** End of a window: the count of what was held back, if anything was. */
  private close(key: string): void {
    const w = this.open.get(key);
    this.open.delete(key);
    if (w === undefined || w.repeats === 0) return;
    const seconds = Math.max(1, Math.round((this.clock.now() - w.startedAt) / 1000));
    if (w.message === OVERFLOW) {
      this.logger[w.level](`${w.repeats} more distinct messages held back in the last ${seconds} s`);
      return;
    }
    const times = w.repeats === 1 ? 'once more' : `${w.repeats} times`;
    this.logger[w.level](`${w.message} (repeated ${times} in the last ${seconds} s)`);
  }
}

/**
 * `log(what, e)`: logs "<what>: <error message>" (at `level`) through a RepeatLimitedLog. For connection
 * error events, which a client raises on every reconnect attempt.
 */
export function rateLimitedLog(
  logger: WarnLogger,
  everyMs = 10_000,
  level: 'warn' | 'error' = 'warn',
): (what: string, e: unknown) => void {
  const log = new RepeatLimitedLog(logger, everyMs);
  return (what, e) => log[level](`${what}: ${e instanceof Error ? e.message : String(e)}`);
}
