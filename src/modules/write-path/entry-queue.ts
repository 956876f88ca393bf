import type { VellumError } from '../../core/errors';
import type { AcceptedEntry, PreparedEntry } from '../log/log.types';

/** One submitted entry waiting for its batch, with the way to answer its submitter. */
export interface QueueTicket {
  readonly entry: PreparedEntry;
  /** When it was enqueued, in the batcher's clock (ms); drives the max-age rule. */
  readonly enqueuedAt: number;
  /**
   * True when this entry was handed to a sequencer before and its answer may never have gone out
   * (a BullMQ job re-delivered after the sequencer holding it died). If the entry is already in
   * the log, it was stored by that earlier delivery: the ticket is answered with the stored entry,
   * not as a duplicate.
   */
  readonly redelivered?: boolean;
  /**
   * The Redis path's submission token: names the API request that created the job, so the batch
   * record tells replicas which one submission gets 201. Undefined in process.
   */
  readonly submission?: string;
  /** Called once the batch holding the entry has committed. */
  resolve(accepted: AcceptedEntry): void;
  reject(error: VellumError): void;
}

export interface EnqueueOptions {
  /** See QueueTicket.redelivered. */
  readonly redelivered?: boolean;
  /** See QueueTicket.submission. */
  readonly submission?: string;
}

/**
 * Where submitted entries wait for the sequencer. The in-process queue is the default; a
 * BullMQ implementation (API replicas enqueue, the sequencer process takes) fits the same shape:
 * enqueue() resolves when the job completes, tickets resolve/reject their job.
 */
export interface EntryQueue {
  /** Producer side: resolves with the accepted entry once its batch committed. */
  enqueue(entry: PreparedEntry, options?: EnqueueOptions): Promise<AcceptedEntry>;
  /** Entries waiting (not yet taken by the sequencer). */
  readonly length: number;
  /** Enqueue time of the oldest waiting entry, undefined when empty. */
  oldestEnqueuedAt(): number | undefined;
  /** Consumer side: removes up to `max` entries from the head, oldest first. */
  take(max: number): QueueTicket[];
  /** Called (synchronously) after every enqueue. One listener. */
  onEnqueue(listener: () => void): void;
  /** Rejects every waiting entry with `error` and refuses further enqueues with it. */
  close(error: VellumError): void;
}

/** A FIFO in this process's memory. Entries in it are lost on a crash; none were acknowledged. */
export class InProcessQueue implements EntryQueue {
  private items: Array<QueueTicket | undefined> = [];
  private head = 0;
  private listener: (() => void) | undefined;
  private closedWith: VellumError | undefined;

  constructor(private readonly now: () => number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  enqueue(entry: PreparedEntry, options?: EnqueueOptions): Promise<AcceptedEntry> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith);
    const redelivered = options?.redelivered === true;
    const submission = options?.submission;
    return new Promise<AcceptedEntry>((resolve, reject) => {
      this.items.push({ entry, enqueuedAt: this.now(), redelivered, submission, resolve, reject });
      this.listener?.();
    });
  }

  oldestEnqueuedAt(): number | undefined {
    return this.length === 0 ? undefined : this.items[this.head]!.enqueuedAt;
  }

  take(max: number): QueueTicket[] {
    const n = Math.min(max, this.length);
    const out = this.items.slice(this.head, this.head + n) as QueueTicket[];
    for (let i = this.head; i < this.head + n; i++) this.items[i] = undefined;
    this.head += n;
    // Compact once the consumed prefix dominates, so memory follows the live length.
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  onEnqueue(listener: () => void): void {
    this.listener = listener;
  }

  close(error: VellumError): void {
    this.closedWith = error;
    for (const t of this.take(this.length)) t.reject(error);
  }
}
