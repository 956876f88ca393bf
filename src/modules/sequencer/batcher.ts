import type { EntryQueue, QueueTicket } from '../write-path/entry-queue';

export interface BatcherOptions {
  readonly maxSize: number;
  readonly maxAgeMs: number;
  readonly now: () => number;
  /** Observes every batch cut: its size and the age of its oldest entry (ms). For metrics. */
  readonly onCut?: (size: number, oldestAgeMs: number) => void;
}

/** The two stages of a batch: prepare (nothing durable) and commit (durable, then answered). */
export interface BatchStages<P> {
  /** Resolves undefined when it answered every ticket itself (the batch failed). */
  prepare(batch: QueueTicket[]): Promise<P | undefined>;
  /** Commits and answers every ticket of the batch, errors included. */
  commit(prepared: P): Promise<void>;
}

interface InFlight {
  /** Tickets of this batch not answered yet. */
  open: number;
}

/**
 * Cuts the queue into batches and runs them through two stages, prepare then commit, with at
 * most one batch in each. Group commit: when nothing is in flight, a batch is cut at once (the
 * first entry of an idle log waits for nothing). While a batch commits, entries gather and are
 * cut together the moment it finishes, or earlier when they reach maxSize or the oldest has
 * waited maxAgeMs; such a batch is prepared while the one ahead is still committing. Batches
 * commit in the order they were cut.
 */
export class Batcher<P = unknown> {
  private timer: NodeJS.Timeout | undefined;
  private preparing: Promise<void> | undefined;
  private ready: { prepared: P; batch: InFlight } | undefined;
  private committing: Promise<void> | undefined;
  private inFlightCount = 0;
  private stopped = false;

  constructor(
    private readonly queue: EntryQueue,
    private readonly stages: BatchStages<P>,
    private readonly options: BatcherOptions,
  ) {
    queue.onEnqueue(() => this.schedule());
  }

  /** Entries taken from the queue and not answered yet (in either stage). */
  get inFlightEntries(): number {
    return this.inFlightCount;
  }

  /** Stops cutting new batches and waits for those in flight. Entries still queued stay queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.settled();
  }

  /** Cuts batches until the queue is empty (ignoring max age), then waits for the last one. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.preparing === undefined && this.ready === undefined && this.queue.length > 0) this.cut();
      else if (this.preparing !== undefined || this.committing !== undefined) await this.nextStep();
      else return;
    }
  }

  private async settled(): Promise<void> {
    while (this.preparing !== undefined || this.committing !== undefined) await this.nextStep();
  }

  private nextStep(): Promise<void> {
    return Promise.race([this.preparing, this.committing].filter((p) => p !== undefined));
  }

  private schedule(): void {
    if (this.stopped || this.preparing !== undefined || this.ready !== undefined) return;
    const oldest = this.queue.oldestEnqueuedAt();
    if (oldest === undefined) {
      this.clearTimer();
      return;
    }
    const wait = oldest + this.options.maxAgeMs - this.options.now();
    if (this.committing === undefined || this.queue.length >= this.options.maxSize || wait <= 0) {
      this.clearTimer();
      this.cut();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
    }
  }

  private cut(): void {
    const taken = this.queue.take(this.options.maxSize);
    if (taken.length === 0) return;
    this.options.onCut?.(taken.length, this.options.now() - taken[0]!.enqueuedAt);
    const inFlight: InFlight = { open: taken.length };
    this.inFlightCount += taken.length;
    // Count a ticket as in flight until it is answered, not until its batch's stages return.
    const batch = taken.map((t): QueueTicket => {
      let open = true;
      const done = (): void => {
        if (open) {
          open = false;
          inFlight.open--;
          this.inFlightCount--;
        }
      };
      return {
        entry: t.entry,
        enqueuedAt: t.enqueuedAt,
        redelivered: t.redelivered,
        submission: t.submission,
        resolve: (a) => {
          done();
          t.resolve(a);
        },
        reject: (e) => {
          done();
          t.reject(e);
        },
      };
    });
    this.preparing = this.stages
      .prepare(batch)
      .then(
        (prepared) => {
          if (prepared === undefined) this.finished(inFlight);
          else this.ready = { prepared, batch: inFlight };
        },
        () => this.finished(inFlight), // prepare answers every ticket itself on failure
      )
      .finally(() => {
        this.preparing = undefined;
        this.startCommit();
        this.schedule();
      });
  }

  private startCommit(): void {
    if (this.committing !== undefined || this.ready === undefined) return;
    const { prepared, batch } = this.ready;
    this.ready = undefined;
    this.committing = this.stages
      .commit(prepared)
      .catch(() => undefined) // commit answers every ticket itself, errors included
      .finally(() => {
        this.committing = undefined;
        this.finished(batch);
        this.startCommit();
        this.schedule();
      });
  }

  /** A batch whose stages have returned: any ticket they left unanswered stops counting. */
  private finished(batch: InFlight): void {
    this.inFlightCount -= batch.open;
    batch.open = 0;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
