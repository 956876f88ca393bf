import { Logger } from '@nestjs/common';
import type IORedis from 'ioredis';
import { VellumError } from '../../core/errors';
import type { BatchSink, CommittedBatch } from '../write-path/batch-sink';
import type { QueueTicket } from '../write-path/entry-queue';
import type { WriteCoalescer } from './redis-connection';
import {
  CREATED_TTL_S,
  type QueueNames,
  type RecordEntry,
  Outcome,
  RESULTS_MAXLEN,
  createdKey,
  encodeRecord,
} from './wire';

/**
 * The sequencer's side of the Redis hand-off: after each batch, one record on the results stream
 * that every API replica reads, then the batch's BullMQ jobs are settled.
 *
 * Each entry a job created (appended, or stored by an earlier delivery of the same job) carries
 * that job's submission token, and the same tokens go into this minute's `created` hash (in one
 * MULTI with the XADD): replicas answer 201 only to the submission the token names, 409 to any
 * other, from the record or, when they missed it, from the hash.
 *
 * Order and crashes: COMMIT (done before this runs) -> HSET created + XADD record -> jobs completed.
 * - Crash after COMMIT, before XADD: the jobs stay active in BullMQ; when their locks lapse the
 *   next active sequencer gets them again (re-delivered), finds the entries stored and publishes
 *   them as Outcome.Stored with the stored index, time and SET. API replicas that are still
 *   waiting answer 201; their fallback sweep also finds the entries in the database.
 * - Crash after XADD, before the jobs completed: the same re-delivery; the second record is a
 *   harmless repeat (nobody waits for those leaves any more).
 * - XADD failing (Redis down): logged; the jobs are settled anyway (that fails too while Redis is
 *   down), and API replicas answer from the database when their sweep runs.
 *
 * Off the commit path: committed() and failed() return at once and the publish + settle runs
 * behind, one batch after another in commit order, so the next batch's transaction does not wait
 * for this one's Redis round trip. The order of steps per batch (COMMIT -> XADD -> jobs settled)
 * and so what a crash leaves behind are the same; the jobs stay held (and locked) by this worker
 * until settled, so the chain is bounded by the consumer's concurrency.
 */
export class RedisBatchSink implements BatchSink {
  private readonly logger = new Logger('Sequencer');
  /** The publish + settle of the batches committed so far, in order. */
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: IORedis,
    private readonly names: QueueNames,
    private readonly coalescer?: WriteCoalescer,
  ) {}

  /** Resolves once every batch handed over so far is published and its jobs settled. */
  drained(): Promise<void> {
    return this.tail;
  }

  private behind(step: () => Promise<void>): Promise<void> {
    this.tail = this.tail.then(step, step);
    return Promise.resolve();
  }

  committed(b: CommittedBatch): Promise<void> {
    const entries: RecordEntry[] = [];
    for (const { ticket, entry } of b.appended) {
      entries.push([
        hex(ticket),
        entry.index,
        entry.integratedTime,
        entry.set.toString('base64'),
        Outcome.Appended,
        ticket.submission ?? '',
      ]);
    }
    for (const s of b.stored) {
      entries.push(
        s.entry !== undefined
          ? [
              hex(s.ticket),
              s.index,
              s.entry.integratedTime,
              s.entry.set.toString('base64'),
              Outcome.Stored,
              s.ticket.submission ?? '',
            ]
          : [hex(s.ticket), s.index, 0, '', Outcome.Duplicate, ''],
      );
    }
    for (const r of b.repeats) entries.push([hex(r.ticket), r.index, 0, '', Outcome.Duplicate, '']);
    const created: string[] = [];
    for (const e of entries) if (e[4] !== Outcome.Duplicate && e[5] !== '') created.push(e[0], e[5]);
    const record = encodeRecord({ checkpoint: b.checkpoint, entries });
    return this.behind(async () => {
      await this.publish(record, entries.length, created);
      const checkpoint = b.checkpoint;
      // The proof is the API's job (from the database, against this checkpoint): the ticket only
      // settles its BullMQ job, so it gets no inclusion proof here.
      this.settle(() => {
        for (const { ticket, entry } of b.appended) ticket.resolve({ entry, checkpoint, inclusionProof: [] });
        for (const s of b.stored) {
          if (s.entry !== undefined) s.ticket.resolve({ entry: s.entry, checkpoint, inclusionProof: [] });
          else s.ticket.reject(duplicate(s.index));
        }
        for (const r of b.repeats) r.ticket.reject(duplicate(r.index));
      });
    });
  }

  private settle(fn: () => void): void {
    if (this.coalescer === undefined) fn();
    else this.coalescer.run(fn);
  }

  failed(tickets: readonly QueueTicket[], error: VellumError): Promise<void> {
    const record = encodeRecord({
      entries: [],
      failed: { leaves: tickets.map(hex), message: error.message },
    });
    return this.behind(async () => {
      await this.publish(record, tickets.length);
      this.settle(() => {
        for (const t of tickets) t.reject(error);
      });
    });
  }

  /** `created`: leaf hex, token, leaf hex, token, ... for this minute's `created` hash. */
  private async publish(record: string, n: number, created: readonly string[] = []): Promise<void> {
    try {
      const m = this.client.multi();
      if (created.length > 0) {
        const key = createdKey(this.names, Date.now());
        m.hset(key, ...created).expire(key, CREATED_TTL_S);
      }
      m.xadd(this.names.results, 'MAXLEN', '~', RESULTS_MAXLEN, '*', 'd', record);
      const results = await m.exec();
      const failed = results?.find(([err]) => err !== null)?.[0];
      if (results === null || failed) throw failed ?? new Error('MULTI aborted');
    } catch (e) {
      this.logger.warn(
        `could not publish the outcome of a batch of ${n} to Redis (${(e as Error).message}); ` +
          'API replicas will answer those submissions from the database',
      );
    }
  }
}

function hex(t: QueueTicket): string {
  return t.entry.leafHash.toString('hex');
}

function duplicate(index: number): VellumError {
  return new VellumError('DUPLICATE_ENTRY', 'the entry is already in the log', { index });
}
