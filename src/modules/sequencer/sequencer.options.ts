/** Knobs of the write path that are not operator configuration: clocks, lease timing, test hooks. */
export interface SequencerOptions {
  /** Wall clock in Unix milliseconds: integratedTime (floored to seconds) and lease expiry. */
  readonly now?: () => number;
  /** How long a lease stays valid without renewal. Default: SEQUENCER_LEASE_TTL_MS (5 s). */
  readonly leaseTtlMs?: number;
  /** Identifies this process in `sequencer_lease.holder`. Default: hostname, pid and a random suffix. */
  readonly holderId?: string;
  /** Tiles the sequencer keeps in memory (~16 KiB each). Default 4096. */
  readonly tileCacheSize?: number;
  /**
   * Fault injection for tests: called inside the batch transaction after every row is written
   * and before COMMIT. Throwing aborts the batch exactly like a database failure would.
   */
  /**
   * Observes every committed batch (after COMMIT): the new size, how many entries it appended
   * and their enqueue times on the batcher's clock. For metrics.
   */
  readonly onCommitted?: (batch: {
    readonly size: number;
    readonly appended: number;
    readonly enqueuedAt: readonly number[];
  }) => void;
  /**
   * Fault injection for tests: called after COMMIT and before the batch's outcome is handed out
   * (answers, the Redis batch record). Never resolving it simulates a crash in that window.
   */
  readonly afterCommit?: (batch: {
    readonly size: number;
    readonly appended: number;
  }) => void | Promise<void>;
  /** Observes every batch that did not commit: its ticket count and the error its tickets got. */
  readonly onFailed?: (tickets: number, error: Error) => void;
  /**
   * Sequencer processes with REDIS_URL: how many BullMQ jobs the worker holds at once (default
   * 2 x BATCH_MAX_SIZE), the jobs' lock duration and how often stalled jobs are looked for.
   */
  readonly workerConcurrency?: number;
  readonly jobLockMs?: number;
  readonly stalledCheckMs?: number;
  /** Observes every batch prepared with new entries (before its commit). For tests. */
  readonly onPrepared?: (batch: { readonly firstIndex: number; readonly count: number }) => void;
  readonly beforeCommit?: (batch: {
    readonly firstIndex: number;
    readonly count: number;
  }) => void | Promise<void>;
}

export const SEQUENCER_OPTIONS = Symbol('SEQUENCER_OPTIONS');
