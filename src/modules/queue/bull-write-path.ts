import {
  Inject,
  Injectable,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import { LogIdentity } from '../identity/log-identity';
import { LogReader } from '../log/log-reader.service';
import type { AcceptedEntry, PreparedEntry } from '../log/log.types';
import { HealthService } from '../metrics/health.service';
import { WritePathMetrics } from '../metrics/write-path-metrics';
import { type WritePath, refuseEntry } from '../write-path/write-path';
import { loadQueueKey } from './job-auth';
import { RedisProducer } from './redis-producer';
import { queueNames } from './wire';

/**
 * The scale-out write path (REDIS_URL set, ROLE=api or all): submit() adds a BullMQ job (id =
 * leaf hash) and waits for the batch record on the results stream; the proof is computed here
 * from stored tiles (RedisProducer). Whichever process holds the sequencer lease takes the job.
 */
@Injectable()
export class BullWritePath implements WritePath, OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly producer: RedisProducer;
  private accepting = false;
  private stopping = false;

  constructor(
    @Inject(VELLUM_CONFIG) config: VellumConfig,
    reader: LogReader,
    identity: LogIdentity,
    @Optional() metrics?: WritePathMetrics,
    @Optional() health?: HealthService,
  ) {
    if (config.redisUrl === undefined) throw new Error('the BullMQ write path needs REDIS_URL');
    const m = metrics ?? new WritePathMetrics();
    this.producer = new RedisProducer(
      {
        url: config.redisUrl,
        names: queueNames(config.redisPrefix),
        maxPending: config.maxPending,
        submitTimeoutMs: config.submitTimeoutMs,
        sweepAfterMs: config.submitSweepAfterMs,
        key: loadQueueKey(config),
      },
      reader,
      identity,
      m,
    );
    m.gauge('vellum_queue_depth', 'entries waiting to be sequenced (in Redis: all replicas)', () =>
      this.producer.readQueueDepth(),
    );
    health?.register('queue', () => this.health());
  }

  async onModuleInit(): Promise<void> {
    await this.producer.start();
    this.accepting = !this.stopping;
  }

  submit(entry: PreparedEntry): Promise<AcceptedEntry> {
    const refused = refuseEntry(this.accepting, entry);
    if (refused !== undefined) return Promise.reject(refused);
    return this.producer.enqueue(entry);
  }

  /** Submissions of this process still waiting for their batch record. */
  pendingCount(): number {
    return this.producer.pendingCount;
  }

  private health(): { ok: boolean; detail: string } {
    const up = this.producer.connected;
    const parts = [`redis ${up ? 'connected' : 'unreachable'}`];
    if (!this.accepting) parts.push('not accepting');
    return { ok: up && this.accepting, detail: parts.join(', ') };
  }

  async onModuleDestroy(): Promise<void> {
    await this.shutdown();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.accepting = false;
    await this.producer.close();
  }
}
