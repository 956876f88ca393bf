import type { EntryQueue, QueueTicket } from '../write-path/entry-queue';

export interface BatcherOptions {
  readonly maxSize: number;
  readonly maxAgeMs: number;
  readonly now: () => number;
  /** Observes every batch cut: its size and the age of its oldest entry (ms). For metrics. */
  readonly onCut?: (size: number, oldestAgeMs: number) => void;
}

/**
 * Cuts the queue into batches: a batch closes when it reaches maxSize entries, or maxAgeMs after
 * its oldest entry arrived, whichever comes first. One batch is handed to `handler` at a time;
 * the next one fills in the queue meanwhile and is cut as soon as the handler returns (at once
 * if it is already full or old enough).
 */
export class Batcher {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private inFlightCount = 0;
  private stopped = false;

  constructor(
    private readonly queue: EntryQueue,
    private readonly handler: (batch: QueueTicket[]) => Promise<void>,
    private readonly options: BatcherOptions,
  ) {
    queue.onEnqueue(() => this.schedule());
  }

  /** Entries taken from the queue whose batch has not finished. */
  get inFlightEntries(): number {
    return this.inFlightCount;
  }

  /** Stops cutting new batches and waits for the one in flight. Entries still queued stay queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.inFlight;
  }

  /** Cuts batches until the queue is empty (ignoring max age), then waits for the last one. */
  async drain(): Promise<void> {
    while (this.inFlight !== undefined || this.queue.length > 0) {
      if (this.inFlight !== undefined) await this.inFlight;
      else this.cut();
    }
  }

  private schedule(): void {
    if (this.stopped || this.inFlight !== undefined) return;
    const oldest = this.queue.oldestEnqueuedAt();
    if (oldest === undefined) {
      this.clearTimer();
      return;
    }
    const wait = oldest + this.options.maxAgeMs - this.options.now();
    if (this.queue.length >= this.options.maxSize || wait <= 0) {
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
    // Count a ticket as in flight until it is answered, not until the handler returns.
    this.inFlightCount = taken.length;
    const batch = taken.map((t): QueueTicket => {
      let open = true;
      const done = (): void => {
        if (open) {
          open = false;
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
    this.inFlight = this.handler(batch)
      .catch(() => undefined) // the handler answers every ticket itself, errors included
      .finally(() => {
        this.inFlight = undefined;
        this.inFlightCount = 0;
        this.schedule();
      });
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
