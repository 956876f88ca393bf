import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { Queue } from 'bullmq';
import type IORedis from 'ioredis';
import { VellumError } from '../../core/errors';
import { HASH_SIZE, leafHash } from '../../core/merkle/hash';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import { LogReader } from '../log/log-reader.service';
import type { AcceptedEntry, PreparedEntry, SignedCheckpoint } from '../log/log.types';
import { HealthService } from '../metrics/health.service';
import { WritePathMetrics } from '../metrics/write-path-metrics';
import { BullConsumer } from '../queue/bull-consumer';
import { RedisBatchSink } from '../queue/redis-batch-sink';
import { WriteCoalescer, commandOptions, connect } from '../queue/redis-connection';
import { RedisProducer } from '../queue/redis-producer';
import { queueNames } from '../queue/wire';
import { LogIdentity } from '../signer/log-identity';
import { LogSigner } from '../signer/log-signer';
import { roleSigns } from '../signer/published-identity';
import { VellumDatabase } from '../storage/database';
import { SequencerEngine } from './sequencer-engine';
import { SEQUENCER_OPTIONS, type SequencerOptions } from './sequencer.options';

/**
 * The write path's front door, in every role's shape:
 *
 * - ROLE=all without REDIS_URL (embedded default): submit() queues in memory; this process's
 *   sequencer (boot waits for its lease) commits each batch and answers with proofs.
 * - REDIS_URL set, ROLE=api or all: submit() adds a BullMQ job (id = leaf hash) and waits for the
 *   batch record on the results stream (RedisProducer); the proof is computed here.
 * - REDIS_URL set, ROLE=sequencer or all: a standby/active loop holds the lease and, while active,
 *   takes jobs from BullMQ into the same batcher and sequencer (SequencerEngine, BullConsumer).
 *
 * A submission is answered only after the transaction that stored it, its tiles and the checkpoint
 * covering it has committed, in every mode.
 */
@Injectable()
export class LogWriter implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger('LogWriter');
  private readonly metrics: WritePathMetrics;
  private readonly engine: SequencerEngine | undefined;
  private readonly producer: RedisProducer | undefined;
  private readonly redis: IORedis | undefined;
  private readonly depthQueue: Queue | undefined;
  private readonly coalescer = new WriteCoalescer();
  private accepting = false;
  private stopping = false;

  constructor(
    @Inject(VELLUM_CONFIG) private readonly config: VellumConfig,
    private readonly db: VellumDatabase,
    @Inject(LogSigner) signer: LogSigner | null,
    identity: LogIdentity,
    @Inject(SEQUENCER_OPTIONS) private readonly options: SequencerOptions,
    @Optional() reader?: LogReader,
    @Optional() metrics?: WritePathMetrics,
    @Optional() health?: HealthService,
  ) {
    this.metrics = metrics ?? new WritePathMetrics();
    const names = queueNames(config.redisPrefix);
    const signs = roleSigns(config.role) && signer !== null;
    if (config.redisUrl !== undefined && signs) {
      // The sink's connection publishes batch records; commands fail fast while Redis is down.
      this.redis = connect(config.redisUrl, commandOptions(), 'vellum-sequencer-publish', this.logger);
      this.depthQueue = new Queue(names.queue, { connection: this.redis, prefix: names.prefix });
      this.depthQueue.on('error', () => undefined);
    }
    if (signs) {
      this.engine = new SequencerEngine({
        config,
        db,
        signer: signer!,
        identity,
        options,
        metrics: this.metrics,
        sink: this.redis !== undefined ? new RedisBatchSink(this.redis, names, this.coalescer) : undefined,
      });
    }
    if (config.redisUrl !== undefined && (config.role === 'all' || config.role === 'api')) {
      if (reader === undefined)
        throw new Error('LogWriter with REDIS_URL needs LogReader (import LogModule)');
      this.producer = new RedisProducer(
        {
          url: config.redisUrl,
          names,
          maxPending: config.maxPending,
          submitTimeoutMs: config.submitTimeoutMs,
          sweepAfterMs: config.submitSweepAfterMs,
        },
        reader,
        identity,
        this.metrics,
      );
    }

    this.metrics.gauge('vellum_queue_depth', 'entries waiting to be sequenced (in Redis: all replicas)', () =>
      this.queueDepth(),
    );
    health?.register('writer', () => this.health());
  }

  private get ttl(): number {
    return this.options.leaseTtlMs ?? this.config.leaseTtlMs;
  }

  async onModuleInit(): Promise<void> {
    if (this.engine !== undefined && this.config.redisUrl === undefined) {
      await this.engine.startBlocking();
      if (this.stopping) return;
    }
    if (this.engine !== undefined && this.config.redisUrl !== undefined) {
      const url = this.config.redisUrl;
      const names = queueNames(this.config.redisPrefix);
      const engine = this.engine;
      engine.startBackground(
        () =>
          new BullConsumer(
            {
              url,
              names,
              concurrency: this.options.workerConcurrency ?? Math.min(10_000, 2 * this.config.batchMaxSize),
              lockMs: this.options.jobLockMs ?? this.ttl,
              stalledCheckMs: this.options.stalledCheckMs ?? Math.max(250, Math.floor(this.ttl / 5)),
              onJob: (waitMs) => this.metrics.queueWait.observe(Math.max(0, waitMs) / 1000),
              coalescer: this.coalescer,
            },
            engine.queue,
          ),
      );
    }
    if (this.producer !== undefined) await this.producer.start();
    this.accepting = true;
  }

  /**
   * Resolves once the batch holding the entry has committed, with the entry, the checkpoint of
   * that batch and the entry's inclusion proof in it. Rejects DUPLICATE_ENTRY (details: entryId,
   * index of the first), PUSHBACK when too much is waiting, UNAVAILABLE when the batch failed or
   * a dependency (Redis, the database) is down. PUSHBACK and UNAVAILABLE carry
   * `details.retryAfterSeconds`.
   */
  submit(entry: PreparedEntry): Promise<AcceptedEntry> {
    if (!this.accepting) {
      return Promise.reject(
        new VellumError('UNAVAILABLE', 'the log is not accepting entries', { retryAfterSeconds: 1 }),
      );
    }
    if (entry.leafHash.length !== HASH_SIZE || !leafHash(entry.body).equals(entry.leafHash)) {
      return Promise.reject(
        new VellumError('INVALID_ARGUMENT', 'leafHash is not the RFC 6962 leaf hash of body'),
      );
    }
    if (this.producer !== undefined) return this.producer.enqueue(entry);
    if (this.engine === undefined || this.config.redisUrl !== undefined) {
      return Promise.reject(
        new VellumError('UNAVAILABLE', `this process (ROLE=${this.config.role}) does not take submissions`),
      );
    }
    const pending = this.pendingCount();
    if (pending >= this.config.maxPending) {
      this.metrics.pushbacks.inc();
      return Promise.reject(
        new VellumError('PUSHBACK', `${pending} entries are waiting to be sequenced; retry later`, {
          pending,
          retryAfterSeconds: 1,
        }),
      );
    }
    return this.engine.queue.enqueue(entry);
  }

  /** Entries accepted by submit() and not yet answered (queued plus the batch in flight). */
  pendingCount(): number {
    return (this.producer?.pendingCount ?? 0) + (this.engine?.pending ?? 0);
  }

  /** The latest checkpoint this process committed (undefined before boot finished, or without a sequencer). */
  latestCheckpoint(): SignedCheckpoint | undefined {
    return this.engine?.sequencer.checkpoint;
  }

  /** 'active', 'standby', 'failed', ... for a sequencing process; undefined for an API-only one. */
  sequencerState(): string | undefined {
    return this.engine?.state;
  }

  private async queueDepth(): Promise<number> {
    if (this.producer !== undefined) return this.producer.readQueueDepth();
    if (this.depthQueue !== undefined) {
      const c = await this.depthQueue.getJobCounts('wait', 'active', 'prioritized', 'paused');
      return (c.wait ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0);
    }
    return this.engine?.pending ?? 0;
  }

  private health(): { ok: boolean; detail: string } {
    const parts: string[] = [];
    let ok = true;
    if (this.engine !== undefined) {
      const s = this.engine.state;
      parts.push(`sequencer ${s}${s === 'failed' ? `: ${this.engine.failureReason ?? ''}` : ''}`);
      if (s === 'failed' || s === 'stopped') ok = false;
    }
    if (this.redis !== undefined || this.producer !== undefined) {
      const up =
        (this.producer?.connected ?? true) && (this.redis === undefined || this.redis.status === 'ready');
      parts.push(`redis ${up ? 'connected' : 'unreachable'}`);
      if (!up) ok = false;
    }
    if (!this.accepting && this.producer !== undefined) {
      parts.push('not accepting');
      ok = false;
    }
    return { ok, detail: parts.join(', ') };
  }

  /** Stop taking entries, sequence what was taken, release the lease for the next sequencer. */
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
    await this.producer?.close();
    await this.engine?.stop();
    await this.depthQueue?.close().catch(() => undefined);
    this.redis?.disconnect();
    void this.db;
  }
}
