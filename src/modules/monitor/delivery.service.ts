import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { classifyDeliveryResponse, nextAttemptDelayMs, webhookHeaders } from '../../core/monitor';
import { VellumDatabase } from '../storage/database';
import { MONITOR_CONFIG, type MonitorConfig } from './monitor.config';
import { MONITOR_OPTIONS, type MonitorOptions } from './monitor.options';
import { MonitorStore, type OutboxRow, type WebhookRecord } from './monitor-store';
import { postWebhook, type PostResult } from './webhook-client';

const secureRandom = (): number => randomInt(0, 2 ** 32) / 2 ** 32;

/**
 * Delivers the durable outbox (monitor_outbox) to webhook endpoints with Standard Webhooks
 * headers: `webhook-id` = the stable event id, a fresh `webhook-timestamp` and signature per
 * attempt over the exact stored body. Due rows are claimed with a short lease (compare-and-set),
 * so several processes can run this safely. Outcomes follow the core's policy: 2xx delivered;
 * 3xx (never followed), 4xx, 5xx, network errors and refused destinations are retried on the
 * schedule; 410, or the schedule running out, disables the endpoint. The table is the source of
 * truth: a crash mid-delivery only means the row is retried after its lease.
 */
@Injectable()
export class DeliveryService {
  private readonly logger = new Logger('MonitorDelivery');
  private readonly now: () => number;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = true;
  private again = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly store: MonitorStore,
    private readonly db: VellumDatabase,
    @Inject(MONITOR_CONFIG) private readonly config: MonitorConfig,
    @Inject(MONITOR_OPTIONS) private readonly options: MonitorOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? secureRandom;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running || this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Look at the outbox now (new alerts were queued). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.loopOnce();
    }, ms);
  }

  private async loopOnce(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    let worked = 0;
    try {
      worked = await this.tick();
    } catch (e) {
      this.logger.error(`delivery pass failed: ${(e as Error).message}`);
    } finally {
      this.running = false;
    }
    const again = this.again;
    this.again = false;
    this.schedule(again || worked > 0 ? 0 : this.nextWakeMs());
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

  /** One pass: deliver every due row (up to the concurrency limit at a time). Returns rows attempted. */
  async tick(): Promise<number> {
    const now = this.now();
    const rows = await this.store.dueDeliveries(now, this.config.webhookConcurrency * 4);
    let attempted = 0;
    const lease = this.config.webhookTimeoutMs + 5000;
    const queue = [...rows];
    const workers = Array.from(
      { length: Math.min(this.config.webhookConcurrency, queue.length) },
      async () => {
        for (let row = queue.shift(); row !== undefined; row = queue.shift()) {
          if (!(await this.store.claimDelivery(row, this.now(), lease))) continue;
          attempted++;
          const p = this.deliver(row, row.endpoint);
          this.inFlight.add(p);
          try {
            await p;
          } finally {
            this.inFlight.delete(p);
          }
        }
      },
    );
    await Promise.all(workers);
    return attempted;
  }

  /** Delay before attempt `n` (1-based), or null when the schedule is exhausted. */
  private delayBefore(n: number, retryAfter: string | undefined): number | null {
    const s = this.options.retryScheduleMs;
    if (s !== undefined) return n > s.length ? null : s[n - 1]!;
    return nextAttemptDelayMs(n, retryAfter, { random: this.random, nowMs: this.now() });
  }

  private async deliver(row: OutboxRow, endpoint: WebhookRecord): Promise<void> {
    const at = this.now();
    const ts = Math.floor(at / 1000);
    let result: PostResult;
    try {
      const headers = webhookHeaders([endpoint.secret], row.eventId, ts, row.body);
      result = await postWebhook(endpoint.url, row.body, headers, {
        timeoutMs: this.config.webhookTimeoutMs,
        allowPrivate: this.config.webhookAllowPrivate,
        ...(this.options.resolveHost ? { resolveHost: this.options.resolveHost } : {}),
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
    await this.db.transaction(async (tx) => {
      await this.store.recordAttempt(tx, row, {
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
        await this.store.finishDelivery(tx, row, {
          status: 'delivered',
          nextAttemptAt: at,
          deliveredAt: at,
          ...common,
        });
        return;
      }
      if (cls === 'disable') {
        disableReason = `endpoint answered 410 Gone to event ${row.eventId}`;
        await this.store.finishDelivery(tx, row, { status: 'failed', nextAttemptAt: at, ...common });
        await this.store.setWebhookEnabled(tx, endpoint.id, false, disableReason, at);
        return;
      }
      const delay = this.delayBefore(attempt + 1, result.retryAfter);
      if (delay === null) {
        disableReason = `delivery of event ${row.eventId} failed ${attempt} times (last: ${error ?? 'unknown'})`;
        await this.store.finishDelivery(tx, row, { status: 'failed', nextAttemptAt: at, ...common });
        await this.store.setWebhookEnabled(tx, endpoint.id, false, disableReason, at);
        return;
      }
      await this.store.finishDelivery(tx, row, { status: 'pending', nextAttemptAt: at + delay, ...common });
    });
    if (disableReason !== undefined) {
      // The endpoint's owner must hear about this some other way than the dead endpoint.
      this.logger.error(`webhook endpoint ${endpoint.name} (${endpoint.url}) disabled: ${disableReason}`);
    } else if (cls !== 'ok') {
      this.logger.warn(`webhook ${endpoint.name}: attempt ${attempt} for ${row.eventId} failed: ${error}`);
    }
  }
}
