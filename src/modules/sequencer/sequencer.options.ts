/** Knobs of the write path that are not operator configuration: clocks, lease timing, test hooks. */
export interface SequencerOptions {
  /** Wall clock in Unix milliseconds: integratedTime (floored to seconds) and lease expiry. */
  readonly now?: () => number;
  /** How long a lease stays valid without renewal. Default 10 s. */
  readonly leaseTtlMs?: number;
  /** Identifies this process in `sequencer_lease.holder`. Default: hostname, pid and a random suffix. */
  readonly holderId?: string;
  /** Tiles the sequencer keeps in memory (~16 KiB each). Default 4096. */
  readonly tileCacheSize?: number;
  /**
   * Fault injection for tests: called inside the batch transaction after every row is written
   * and before COMMIT. Throwing aborts the batch exactly like a database failure would.
   */
  readonly beforeCommit?: (batch: {
    readonly firstIndex: number;
    readonly count: number;
  }) => void | Promise<void>;
}

export const SEQUENCER_OPTIONS = Symbol('SEQUENCER_OPTIONS');
