import type { VellumError } from '../../core/errors';
import type { SignedCheckpoint, StoredEntry } from '../log/log.types';
import type { QueueTicket } from './entry-queue';

/** One committed batch, as handed to a BatchSink. Every ticket of the batch is in exactly one list. */
export interface CommittedBatch {
  /** The checkpoint this batch's COMMIT made durable (the previous one if nothing was new). */
  readonly checkpoint: SignedCheckpoint;
  /** Entries this batch appended, with their index, integratedTime and SET. */
  readonly appended: ReadonlyArray<{ readonly ticket: QueueTicket; readonly entry: StoredEntry }>;
  /**
   * Tickets whose leaf was in the log before this batch. `entry` is the stored entry when the
   * ticket was re-delivered (so it is answered as accepted); otherwise only `index` is known and
   * the ticket is a duplicate.
   */
  readonly stored: ReadonlyArray<{
    readonly ticket: QueueTicket;
    readonly index: number;
    readonly entry?: StoredEntry;
  }>;
  /** Second and later tickets of one leaf hash inside this batch: duplicates of the first. */
  readonly repeats: ReadonlyArray<{ readonly ticket: QueueTicket; readonly index: number }>;
}

/**
 * Where a batch's outcome goes once the transaction has ended. The default (in-process queue)
 * answers each ticket with its inclusion proof from the sequencer's tile cache; the Redis queue
 * publishes one record per batch for the API replicas and completes the BullMQ jobs.
 * Each method must answer every ticket it is given exactly once.
 */
export interface BatchSink {
  committed(batch: CommittedBatch): Promise<void>;
  failed(tickets: readonly QueueTicket[], error: VellumError): Promise<void>;
}
