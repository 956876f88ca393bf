import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DelayedError, type Job } from 'bullmq';
import { randomInt } from 'node:crypto';
import { Counter } from 'prom-client';
import { classifyDeliveryResponse, nextAttemptDelayMs, webhookHeaders } from '../../core/monitor';
import { MetricsService } from '../api/metrics.service';
import { rateLimitedLog } from '../logging/repeat-limited-log';
import { VellumDatabase } from '../storage/database';
import { DeliveryQueue, type DeliveryJobData, type ScheduledRow } from './delivery-queue';
import { MONITOR_CONFIG, type MonitorConfig } from './monitor.config';
import { MONITOR_OPTIONS, type MonitorOptions } from './monitor.options';
import { PollingLoop } from './polling-loop';
import { DeliveryRepository, type DeliveryRow, type OutboxRow } from './repositories/delivery.repository';
import { WebhookRepository, type WebhookRecord } from './repositories/webhook.repository';
import { postWebhook, type PostResult } from './webhook-client';

const secureRandom = (): number => randomInt(0, 2 ** 32) / 2 ** 32;

/** Due rows the sweep checks per pass, oldest first. */
const SWEEP_BATCH = 1000;

/** Which way an attempt was started. */
export type DeliveryPath = 'queue' | 'database';

/** Counters of this process (also Prometheus metrics when the app has a MetricsService). */
export interface DeliveryStats {
  /** Attempts made, by the path that claimed the row. */
  readonly attempts: Record<DeliveryPath, number>;
  /** Jobs the sweep added for rows never attempted (their first job). */
  readonly enqueued: number;
  /** Jobs the sweep added for rows already attempted: the job for their retry was lost. */
  readonly recovered: number;
}

/** What an attempt left in the row. */
interface AttemptOutcome {
  readonly status: OutboxRow['status'];
  readonly nextAttemptAt: number;
}

/**
 * Delivers the durable outbox (monitor_outbox) to webhook endpoints with Standard Webhooks
 * headers: `webhook-id` = the stable event id, a fresh `webhook-timestamp` and signature per
 * attempt over the exact stored body. Outcomes follow the core's policy: 2xx delivered; 3xx
 * (never followed), 4xx, 5xx, network errors and refused destinations are retried on the
 * schedule; 410, or the schedule running out, disables the endpoint.
 *
 * The table is the source of truth and the only lock: an attempt starts only after a
 * compare-and-set claim of its row (pending, same attempt count, lease free), and its outcome and
 * the next attempt's time are written in one transaction. A crash mid-delivery leaves the row
 * leased; it is retried once the lease lapses.
 *
 * Without REDIS_URL due rows are polled. With it, each row's next attempt is a BullMQ job
 * (DeliveryQueue, which says why losing Redis loses no event); while Redis is unreachable the
 * sweep delivers due rows from the table itself, so an outage delays deliveries by at most the
 * poll interval.
 */
@Injectable()
export class DeliveryService {
  private readonly logger = new Logger('MonitorDelivery');
  private readonly redisLog = rateLimitedLog(this.logger);
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly loop = new PollingLoop(
    async () => (this.queue !== undefined ? await this.sweep(this.queue) : await this.tick()) > 0,
    () => (this.queue !== undefined && this.redisHealthy ? this.config.webhookSweepMs : this.nextWakeMs()),
    (e) => this.logger.error(`delivery pass failed: ${(e as Error).message}`),
  );
  private readonly inFlight = new Set<Promise<unknown>>();
  private queue: DeliveryQueue | undefined;
  /** False after a Redis command failed, until one succeeds: the table is polled meanwhile. */
  private redisHealthy = true;
  private readonly counts = { queue: 0, database: 0, enqueued: 0, recovered: 0 };
  private readonly attemptsMetric: Counter<'path' | 'outcome'> | undefined;
  private readonly sweepMetric: Counter<'reason'> | undefined;

  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly webhooks: WebhookRepository,
    private readonly db: VellumDatabase,
    @Inject(MONITOR_CONFIG) private readonly config: MonitorConfig,
    @Inject(MONITOR_OPTIONS) private readonly options: MonitorOptions,
    @Optional() metrics?: MetricsService,
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? secureRandom;
    if (metrics !== undefined) {
      const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
        (metrics.registry.getSingleMetric(name) as Counter<L> | undefined) ??
        new Counter({ name, help, labelNames, registers: [metrics.registry] });
      this.attemptsMetric = counter(
        'vellum_monitor_webhook_attempts_total',
        'Webhook delivery attempts by path (queue: a BullMQ job; database: the outbox poll) and outcome',
        ['path', 'outcome'],
      );
      this.sweepMetric = counter(
        'vellum_monitor_webhook_jobs_enqueued_total',
        'BullMQ delivery jobs added by the outbox sweep (new: first attempt; recovered: the job was missing)',
        ['reason'],
      );
    }
  }

  /** Whether deliveries are scheduled through BullMQ (REDIS_URL set and the service started). */
  get usesQueue(): boolean {
    return this.queue !== undefined;
  }

  stats(): DeliveryStats {
    const c = this.counts;
    return {
      attempts: { queue: c.queue, database: c.database },
      enqueued: c.enqueued,
      recovered: c.recovered,
    };
  }

  start(): void {
    if (this.loop.active) return;
    if (this.config.redisUrl !== undefined) {
      this.queue = new DeliveryQueue({
        url: this.config.redisUrl,
        prefix: this.config.redisPrefix,
        concurrency: this.config.webhookConcurrency,
        lockMs: this.leaseMs() + 10_000,
      });
      this.queue.start((job, token) => this.processJob(job, token));
    }
    this.loop.start();
  }

  async stop(): Promise<void> {
    const pass = this.loop.stop();
    const q = this.queue;
    this.queue = undefined;
    // The worker finishes the jobs it runs (their attempts get recorded) before disconnecting.
    await q?.close();
    await pass;
    while (this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
      await sleep(5);
    }
  }

  /** Look at the outbox now (new alerts were queued). */
  kick(): void {
    this.loop.kick();
  }

  private nextWakeMs(): number {
    const shortest = this.options.retryScheduleMs
      ?.filter((x) => x > 0)
      .reduce((a, b) => Math.min(a, b), Infinity);
    return Math.min(
      this.config.webhookPollMs,
      shortest === undefined || shortest === Infinity ? Infinity : shortest,
    );
  }

  private leaseMs(): number {
    return this.config.webhookTimeoutMs + 5000;
  }

  /**
   * Redis mode: gives every due, unclaimed row whose job is missing a job. Rows just written by
   * the evaluator get their first job here (kick), and rows whose job Redis lost get a new one.
   * While Redis is unreachable it delivers due rows from the table instead. Returns the jobs
   * added (0 when nothing was missing, so the next pass waits the sweep interval).
   */
  private async sweep(queue: DeliveryQueue): Promise<number> {
    const now = this.now();
    const rows = await this.deliveries.due(now, SWEEP_BATCH);
    let missing: DeliveryRow[];
    try {
      // Asked even with no rows: health must reflect the connection, not an idle outbox.
      if (!queue.ready) throw new Error('not connected');
      missing = await queue.missing(rows);
      await queue.schedule(missing, now);
    } catch (e) {
      this.redisHealthy = false;
      // Not connected yet at boot is not worth a warning; the table covers until it is.
      if (queue.wasReady) this.redisLog('webhook queue unavailable, delivering from the outbox table', e);
      return this.tick();
    }
    if (!this.redisHealthy && queue.wasReady) this.logger.log('webhook queue reachable');
    this.redisHealthy = true;
    const recovered = missing.filter((r) => r.attempts > 0).length;
    this.counts.recovered += recovered;
    this.counts.enqueued += missing.length - recovered;
    if (recovered > 0) {
      this.sweepMetric?.inc({ reason: 'recovered' }, recovered);
      this.logger.warn(`re-enqueued ${recovered} webhook deliveries whose job was missing from Redis`);
    }
    if (missing.length > recovered) this.sweepMetric?.inc({ reason: 'new' }, missing.length - recovered);
    return missing.length;
  }

  /** One pass: deliver every due row (up to the concurrency limit at a time). Returns rows attempted. */
  async tick(): Promise<number> {
    const now = this.now();
    const rows = await this.deliveries.due(now, this.config.webhookConcurrency * 4);
    let attempted = 0;
    const queue = [...rows];
    const workers = Array.from(
      { length: Math.min(this.config.webhookConcurrency, queue.length) },
      async () => {
        for (let row = queue.shift(); row !== undefined; row = queue.shift()) {
          if (!(await this.deliveries.claim(row, this.now(), this.leaseMs()))) continue;
          attempted++;
          await this.attempt(row, row.endpoint, 'database');
        }
      },
    );
    await Promise.all(workers);
    return attempted;
  }

  /**
   * A BullMQ job: attempt `a + 1` of one row, if the row still wants exactly that. Everything is
   * re-read from the table: the job only says which row to look at and when. Moving the job to
   * delayed (DelayedError) keeps it for later; returning completes and removes it.
   */
  private async processJob(job: Job<DeliveryJobData, string>, token: string | undefined): Promise<string> {
    const d = job.data;
    const row = await this.deliveries.get(d.e, d.v);
    // Delivered, failed, acknowledged, deleted or the endpoint disabled: nothing to do. A
    // re-enabled endpoint's rows are found by the sweep.
    if (row === undefined || row.status !== 'pending' || !row.endpoint.enabled) return 'settled';
    if (row.attempts !== d.a) {
      // This attempt was made (by an earlier run of this job, or the table poll during a Redis
      // outage). A crash right after that attempt's commit leaves the row's next attempt without
      // a job: make sure it has one.
      await this.queue?.schedule([row], this.now()).catch(() => undefined);
      return 'stale';
    }
    const now = this.now();
    const leasedUntil = row.lockedUntil !== undefined && row.lockedUntil >= now ? row.lockedUntil + 1 : 0;
    const wakeAt = Math.max(row.nextAttemptAt, leasedUntil);
    if (wakeAt > now) {
      // Not due (Retry-After pushed it), or another process holds the lease (it is sending, or
      // it crashed and the lease must lapse first).
      await job.moveToDelayed(wakeAt, token);
      throw new DelayedError();
    }
    if (!(await this.deliveries.claim(row, now, this.leaseMs()))) {
      // Lost the claim to another path; look again shortly (it is then stale or leased).
      await job.moveToDelayed(now + 1000, token);
      throw new DelayedError();
    }
    const outcome = await this.attempt(row, row.endpoint, 'queue');
    return outcome.status;
  }

  /** A claimed attempt, tracked so stop() waits for it. */
  private async attempt(
    row: OutboxRow,
    endpoint: WebhookRecord,
    path: DeliveryPath,
  ): Promise<AttemptOutcome> {
    const p = this.deliver(row, endpoint, path);
    this.inFlight.add(p);
    try {
      return await p;
    } finally {
      this.inFlight.delete(p);
    }
  }

  /** Delay before attempt `n` (1-based), or null when the schedule is exhausted. */
  private delayBefore(n: number, retryAfter: string | undefined): number | null {
    const s = this.options.retryScheduleMs;
    if (s !== undefined) return n > s.length ? null : s[n - 1]!;
    return nextAttemptDelayMs(n, retryAfter, { random: this.random, nowMs: this.now() });
  }

  private async deliver(
    row: OutboxRow,
    endpoint: WebhookRecord,
    path: DeliveryPath,
  ): Promise<AttemptOutcome> {
    const at = this.now();
    const ts = Math.floor(at / 1000);
    let result: PostResult;
    try {
      const headers = webhookHeaders([endpoint.secret], row.eventId, ts, row.body);
      result = await postWebhook(endpoint.url, row.body, headers, {
        timeoutMs: this.config.webhookTimeoutMs,
        allowPrivate: this.config.webhookAllowPrivate,
        resolveHost: this.options.resolveHost,
      });
    } catch (e) {
      result = { error: (e as Error).message, durationMs: 0 };
    }
    const cls = result.refused !== undefined ? 'refused' : classifyDeliveryResponse(result.status);
    const attempt = row.attempts + 1;
    const error =
      result.refused !== undefined
        ? `destination refused: ${result.refused}`
        : (result.error ??
          (cls === 'failure-no-follow'
            ? `redirect (${result.status}) not followed`
            : cls === 'ok'
              ? undefined
              : `HTTP ${result.status}`));
    let disableReason: string | undefined;
    let outcome: AttemptOutcome = { status: 'failed', nextAttemptAt: at };
    await this.db.transaction(async (tx) => {
      await this.deliveries.recordAttempt(tx, row, {
        at,
        ...(result.status !== undefined ? { status: result.status } : {}),
        outcome: cls,
        ...(error !== undefined ? { error } : {}),
        durationMs: result.durationMs,
      });
      const common = {
        ...(result.status !== undefined ? { lastStatus: result.status } : {}),
        ...(error !== undefined ? { lastError: error } : {}),
      };
      if (cls === 'ok') {
        await this.deliveries.finish(tx, row, {
          status: 'delivered',
          nextAttemptAt: at,
          deliveredAt: at,
          ...common,
        });
        outcome = { status: 'delivered', nextAttemptAt: at };
        return;
      }
      const delay = cls === 'disable' ? null : this.delayBefore(attempt + 1, result.retryAfter);
      if (delay === null) {
        disableReason =
          cls === 'disable'
            ? `endpoint answered 410 Gone to event ${row.eventId}`
            : `delivery of event ${row.eventId} failed ${attempt} times (last: ${error ?? 'unknown'})`;
        await this.deliveries.finish(tx, row, { status: 'failed', nextAttemptAt: at, ...common });
        await this.webhooks.setEnabled(tx, endpoint.id, false, disableReason, at);
        return;
      }
      await this.deliveries.finish(tx, row, { status: 'pending', nextAttemptAt: at + delay, ...common });
      outcome = { status: 'pending', nextAttemptAt: at + delay };
    });
    this.counts[path]++;
    this.attemptsMetric?.inc({ path, outcome: cls });
    if (outcome.status === 'pending' && this.queue !== undefined) {
      // The retry's job. If this process dies before it is added, or Redis is down, the sweep
      // adds it once the retry is due.
      const next: ScheduledRow = {
        endpointId: row.endpointId,
        eventId: row.eventId,
        attempts: attempt,
        nextAttemptAt: outcome.nextAttemptAt,
      };
      await this.queue.schedule([next], this.now()).catch((e: unknown) => {
        this.redisLog('could not enqueue a webhook retry (the sweep will)', e);
      });
    }
    if (disableReason !== undefined) {
      // The endpoint's owner must hear about this some other way than the dead endpoint.
      this.logger.error(`webhook endpoint ${endpoint.name} (${endpoint.url}) disabled: ${disableReason}`);
    } else if (cls !== 'ok') {
      this.logger.warn(`webhook ${endpoint.name}: attempt ${attempt} for ${row.eventId} failed: ${error}`);
    }
    return outcome;
  }
}
