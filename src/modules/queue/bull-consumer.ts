import { Logger } from '@nestjs/common';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { Counter, type Registry } from 'prom-client';
import { isVellumError } from '../../core/errors';
import type { EntryQueue } from '../write-path/entry-queue';
import { RepeatLimitedLog, rateLimitedLog } from '../logging/repeat-limited-log';
import { type WriteCoalescer, blockingOptions } from './redis-connection';
import { type JobData, type QueueNames, type QueuedJob, decodeJob } from './wire';

export interface BullConsumerOptions {
  readonly url: string;
  readonly names: QueueNames;
  /** Jobs held at once: at least a full batch, so the next batch fills while one commits. */
  readonly concurrency: number;
  /**
   * BullMQ workers sharing `concurrency` (default 4). One worker fetches its jobs one
   * moveToActive round trip after another, so a burst reaches the batcher one job per round
   * trip; several workers fetch side by side and a batch is in hand that many times sooner.
   */
  readonly fetchers?: number;
  /** How long a job stays locked to this worker without renewal (renewed every half). */
  readonly lockMs: number;
  /** How often the worker looks for jobs whose worker died (lock lapsed) to re-deliver them. */
  readonly stalledCheckMs: number;
  /** Observes each job's wait in Redis (ms, from the API's enqueue). */
  readonly onJob?: (waitMs: number) => void;
  /** Gets the worker's command socket, so settling a batch's jobs costs one write. */
  readonly coalescer?: WriteCoalescer;
  /** The queue secret every job's MAC is checked under (job-auth.ts). */
  readonly key: Buffer;
  /** Counts a job refused before sequencing (bad or missing MAC, malformed). */
  readonly onRejected?: () => void;
}

/** `vellum_queue_jobs_rejected_total` in `registry` (one per registry: several consumers share it). */
export function jobsRejectedCounter(registry: Registry): Counter {
  const name = 'vellum_queue_jobs_rejected_total';
  return (
    (registry.getSingleMetric(name) as Counter | undefined) ??
    new Counter({
      name,
      help: 'queue jobs the sequencer refused and dropped unsequenced (bad or missing MAC, malformed)',
      registers: [registry],
    })
  );
}

/** What a completed job returns (kept short: BullMQ writes it into its event stream). */
export type JobResult = { readonly i: number } | { readonly d: number };

/**
 * Feeds BullMQ jobs into the sequencer's batcher.
 *
 * A BullMQ worker processes jobs one by one; batching comes from concurrency: the worker holds up
 * to `concurrency` jobs at once, each job's processor puts its entry into the in-process queue
 * the Batcher cuts batches from, and resolves when that batch has been answered. So BullMQ keeps
 * doing what it is good at (atomic hand-over, per-job locks, re-delivery of the jobs of a dead
 * worker) and the batch transaction stays the same code as in the embedded mode.
 *
 * Only the sequencer holding the lease runs a consumer. A job whose worker died (kill -9) keeps
 * its lock for `lockMs`, then the next stalled check puts it back in the wait list, and the next
 * active sequencer takes it with `attemptsStarted > 1`: the ticket is marked re-delivered, so if
 * its entry was already committed it is answered with the stored entry instead of a duplicate.
 * maxStalledCount is high because a re-delivered job must never be failed for having stalled:
 * its submitter may still be waiting.
 */
export class BullConsumer {
  private readonly logger = new Logger('Sequencer');
  private workers: Worker<JobData, JobResult>[] = [];
  private running: Promise<unknown> | undefined;
  /** A flood of forged jobs must not flood the log: one alert line per 10 s, with a count. */
  private readonly alert = new RepeatLimitedLog(this.logger);

  constructor(
    private readonly options: BullConsumerOptions,
    private readonly queue: EntryQueue,
  ) {}

  /** How many BullMQ workers run, and how many jobs each holds (at least one each). */
  static split(concurrency: number, fetchers: number): { workers: number; each: number } {
    const workers = Math.max(1, Math.min(fetchers, concurrency));
    return { workers, each: Math.ceil(concurrency / workers) };
  }

  start(): void {
    if (this.workers.length > 0) return;
    const o = this.options;
    const log = rateLimitedLog(this.logger);
    const { workers, each } = BullConsumer.split(o.concurrency, o.fetchers ?? 4);
    // Every worker is a full BullMQ worker (own locks, lock renewal and stalled check), so what a
    // crash leaves behind is the same as with one: the active jobs of this process lapse and are
    // re-delivered to the next active sequencer.
    for (let i = 0; i < workers; i++) {
      const worker = new Worker<JobData, JobResult>(o.names.queue, (job) => this.process(job), {
        connection: { url: o.url, ...blockingOptions(), connectionName: 'vellum-sequencer' },
        prefix: o.names.prefix,
        concurrency: each,
        lockDuration: o.lockMs,
        stalledInterval: o.stalledCheckMs,
        maxStalledCount: 1_000_000,
        autorun: false,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 0 },
      });
      worker.on('error', (e) => log('BullMQ worker', e));
      this.workers.push(worker);
    }
    const current = this.workers;
    if (o.coalescer !== undefined) {
      const coalescer = o.coalescer;
      void Promise.all(
        current.map((w) =>
          w.client.then(
            (c) => (c as unknown as { stream?: Parameters<WriteCoalescer['attach']>[0][number] }).stream,
            () => undefined,
          ),
        ),
      ).then((sockets) => {
        if (this.workers === current) coalescer.attach(sockets);
      });
    }
    this.running = Promise.all(
      current.map((w) => w.run().catch((e: unknown) => log('BullMQ worker stopped', e))),
    );
  }

  /**
   * Stops taking jobs. Normally waits for the jobs it holds to be answered (their batches run to
   * the end). `force`: returns at once and stops renewing the jobs' locks, so that when this
   * process can no longer sequence (it lost the database) its jobs lapse and are re-delivered to
   * the sequencer that took over, instead of staying locked here.
   */
  async close(force = false): Promise<void> {
    const ws = this.workers;
    if (ws.length === 0) return;
    this.workers = [];
    this.options.coalescer?.attach([]);
    await Promise.all(ws.map((w) => w.close(force)));
    if (!force) await this.running;
  }

  private async process(job: Job<JobData, JobResult>): Promise<JobResult> {
    let queued: QueuedJob;
    try {
      queued = decodeJob(this.options.key, job.id, job.data);
    } catch (e) {
      // A job no API process holding the secret wrote (someone else with access to Redis, a
      // different QUEUE_HMAC_KEY, version skew): dropped, never sequenced, never retried. A real
      // submitter whose job was replaced this way re-queues it from its sweep.
      this.options.onRejected?.();
      // Keyed without the attacker-chosen job id, so forged jobs share one window.
      this.alert.error(
        'refused queue jobs (not sequenced)',
        `refused a queue job (not sequenced): ${(e as Error).message}`,
      );
      throw new UnrecoverableError((e as Error).message);
    }
    this.options.onJob?.(Date.now() - job.timestamp);
    const redelivered = job.attemptsStarted > 1 || job.stalledCounter > 0;
    try {
      const accepted = await this.queue.enqueue(queued.entry, { redelivered, submission: queued.submission });
      return { i: accepted.entry.index };
    } catch (e) {
      // A duplicate is an answer, not a failure: the batch record already told the API.
      if (isVellumError(e, 'DUPLICATE_ENTRY')) return { d: Number(e.details?.index ?? -1) };
      throw e;
    }
  }
}
