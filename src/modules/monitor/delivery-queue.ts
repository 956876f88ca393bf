/**
 * The BullMQ side of webhook delivery (REDIS_URL set). Redis only schedules: one job per outbox
 * row and attempt, due when the row's next attempt is. What was sent, and whether an attempt may
 * start at all, is decided by the monitor_outbox row (DeliveryService), so losing Redis, or any
 * one job, loses a wake-up and never an event: DeliveryService's sweep finds due rows without a
 * job and adds it again.
 */
import { Logger } from '@nestjs/common';
import { Queue, Worker, type Job } from 'bullmq';
import type IORedis from 'ioredis';
import { rateLimitedLog } from '../logging/repeat-limited-log';
import { blockingOptions, commandOptions, connect } from '../queue/redis-connection';

export const DELIVERY_QUEUE = 'monitor-webhooks';

/** Job data: which outbox row, and which attempt of it the job is for. Short keys, written per job. */
export interface DeliveryJobData {
  /** Endpoint id. */
  readonly e: string;
  /** Event id. */
  readonly v: string;
  /** The row's `attempts` when the job was made: the job performs attempt a + 1. */
  readonly a: number;
}

/** The part of an outbox row that decides its job. */
export interface ScheduledRow {
  readonly endpointId: string;
  readonly eventId: string;
  readonly attempts: number;
  readonly nextAttemptAt: number;
}

/**
 * Job id of one attempt of one row. Adding a job whose id exists is a no-op in BullMQ, so
 * scheduling the same attempt twice (the worker after its attempt, a sweep, another replica)
 * makes one job. ':' is not allowed in a custom id; the endpoint id is escaped in case it has one.
 */
export function deliveryJobId(endpointId: string, eventId: string, attempts: number): string {
  return `wh.${encodeURIComponent(endpointId)}.${eventId}.${attempts}`;
}

export type DeliveryProcessor = (
  job: Job<DeliveryJobData, string>,
  token: string | undefined,
) => Promise<string>;

export interface DeliveryQueueOptions {
  readonly url: string;
  readonly prefix: string;
  /** Jobs this process runs at once. */
  readonly concurrency: number;
  /** How long an active job stays locked without renewal; longer than one HTTP attempt. */
  readonly lockMs: number;
}

export class DeliveryQueue {
  private readonly logger = new Logger('MonitorDelivery');
  private readonly log = rateLimitedLog(this.logger);
  private readonly client: IORedis;
  readonly queue: Queue<DeliveryJobData, string>;
  private worker: Worker<DeliveryJobData, string> | undefined;
  private running: Promise<void> | undefined;
  private connectedOnce = false;

  constructor(private readonly options: DeliveryQueueOptions) {
    // Fails fast while Redis is down (no offline queue): the caller then falls back to the table.
    this.client = connect(options.url, commandOptions(), 'vellum-monitor', this.logger);
    this.queue = new Queue<DeliveryJobData, string>(DELIVERY_QUEUE, {
      connection: this.client,
      prefix: options.prefix,
      defaultJobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: true },
    });
    this.queue.on('error', (e) => this.log('BullMQ webhook queue', e));
    this.client.once('ready', () => (this.connectedOnce = true));
  }

  /** True while the command connection is up. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Whether the command connection has ever been up (before that, failures are just boot). */
  get wasReady(): boolean {
    return this.connectedOnce;
  }

  start(processor: DeliveryProcessor): void {
    if (this.worker !== undefined) return;
    const o = this.options;
    const worker = new Worker<DeliveryJobData, string>(DELIVERY_QUEUE, processor, {
      connection: { url: o.url, ...blockingOptions(), connectionName: 'vellum-monitor-webhooks' },
      prefix: o.prefix,
      concurrency: o.concurrency,
      lockDuration: o.lockMs,
      autorun: false,
      // A finished job must leave no trace: its id may be needed again (the same attempt after
      // the endpoint is re-enabled, or after Redis lost the row's newer job).
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    });
    worker.on('error', (e) => this.log('BullMQ webhook worker', e));
    this.worker = worker;
    this.running = worker.run().catch((e: unknown) => this.log('BullMQ webhook worker stopped', e));
  }

  /**
   * Adds one job per row for its next attempt (no-op for a job that exists), due at the row's
   * nextAttemptAt. Rejects while Redis is unreachable.
   */
  async schedule(rows: readonly ScheduledRow[], now: number): Promise<void> {
    if (rows.length === 0) return;
    await this.queue.addBulk(
      rows.map((r) => ({
        name: 'deliver',
        data: { e: r.endpointId, v: r.eventId, a: r.attempts },
        opts: {
          jobId: deliveryJobId(r.endpointId, r.eventId, r.attempts),
          delay: Math.max(0, r.nextAttemptAt - now),
        },
      })),
    );
  }

  /** The rows whose job for their next attempt is not in Redis. Rejects while Redis is unreachable. */
  async missing<T extends ScheduledRow>(rows: readonly T[]): Promise<T[]> {
    if (rows.length === 0) return [];
    const pipe = this.client.pipeline();
    for (const r of rows) pipe.exists(this.queue.toKey(deliveryJobId(r.endpointId, r.eventId, r.attempts)));
    const res = (await pipe.exec()) ?? [];
    return rows.filter((_, i) => {
      const [err, n] = res[i] ?? [new Error('no reply'), 0];
      if (err) throw err;
      return n === 0;
    });
  }

  /** Stops taking jobs, waits for the ones running, then disconnects. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w !== undefined) {
      // A graceful close waits for the running jobs and then QUITs, and both wait for Redis:
      // with Redis down they would wait forever (and keep reconnecting). So: forced when Redis
      // is down, bounded otherwise, and past the bound the connections are dropped. Jobs left
      // active lapse and are picked up again; their attempt is already recorded in the table
      // (DeliveryService waits for its own in-flight attempts separately).
      const bound = (ms: number): Promise<'late'> =>
        new Promise((r) => setTimeout(() => r('late'), ms).unref());
      const closing = w.close(!this.ready).catch((e: unknown) => this.log('closing the webhook worker', e));
      if ((await Promise.race([closing, bound(this.options.lockMs)])) === 'late') {
        const blocking = (
          w as unknown as { blockingConnection?: { disconnect(wait: boolean): Promise<void> } }
        ).blockingConnection;
        await Promise.allSettled([w.disconnect(), blocking?.disconnect(false)]);
      }
      await Promise.race([this.running, bound(1000)]);
    }
    await this.queue.close().catch(() => undefined);
    this.client.disconnect();
  }
}
