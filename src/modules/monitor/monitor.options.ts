/** Knobs of the monitor that are not operator configuration: clocks, randomness, test hooks. */
export interface MonitorOptions {
  /** Wall clock, Unix ms. */
  readonly now?: () => number;
  /** Uniform [0, 1) for retry jitter. */
  readonly random?: () => number;
  /**
   * Delay before delivery attempt n (index n-1), replacing the Standard Webhooks schedule
   * (0, 5 s, 5 min, ... 24 h). Tests use a short one; attempts beyond its length give up.
   */
  readonly retryScheduleMs?: readonly number[];
  /** Start the evaluator, delivery and backfill loops at boot (default: MonitorConfig.workersEnabled). */
  readonly autoStart?: boolean;
  /** DNS resolution of webhook hosts (default: dns.lookup, all addresses). */
  readonly resolveHost?: (hostname: string) => Promise<string[]>;
  /**
   * Fault injection: called inside the evaluator's transaction after the alerts are written and
   * before COMMIT. Throwing aborts the batch as a crash would.
   */
  readonly beforeCommit?: (batch: {
    readonly fromIndex: number;
    readonly toIndex: number;
  }) => void | Promise<void>;
}

export const MONITOR_OPTIONS = Symbol('MONITOR_OPTIONS');
