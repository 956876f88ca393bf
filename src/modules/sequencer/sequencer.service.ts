import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { Queue } from 'bullmq';
import type IORedis from 'ioredis';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import { LogIdentity } from '../identity/log-identity';
import type { SignedCheckpoint } from '../log/log.types';
import { HealthService } from '../metrics/health.service';
import { WriteReadiness, storageProbes } from '../metrics/write-readiness';
import { WritePathMetrics } from '../metrics/write-path-metrics';
import { BullConsumer, jobsRejectedCounter } from '../queue/bull-consumer';
import { loadQueueKey } from '../queue/job-auth';
import { RedisBatchSink } from '../queue/redis-batch-sink';
import { WriteCoalescer, commandOptions, connect } from '../queue/redis-connection';
import { queueNames } from '../queue/wire';
import { LogSigner } from '../signer/log-signer';
import { VellumDatabase } from '../storage/database';
import { SequencerEngine } from './sequencer-engine';
import { SEQUENCER_OPTIONS, type SequencerOptions } from './sequencer.options';

/**
 * The sequencing half of a signing process (ROLE=all, sequencer), in either shape:
 *
 * - without REDIS_URL (embedded default): boot waits for the lease; entries come from this
 *   process's API through InProcessWritePath into the engine's queue, and each ticket is answered
 *   with its proof here.
 * - with REDIS_URL: a standby/active loop holds the lease and, while active, takes BullMQ jobs
 *   (BullConsumer) into the same batcher and sequencer; batch outcomes go to the results stream
 *   (RedisBatchSink), where the API processes' BullWritePath picks them up.
 *
 * Either way an entry is answered only after the transaction that stored it, its tiles and the
 * checkpoint covering it has committed.
 */
@Injectable()
export class SequencerService implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('Sequencer');
  private readonly metrics: WritePathMetrics;
  readonly engine: SequencerEngine;
  /** Publishes batch records; commands fail fast while Redis is down. Redis mode only. */
  private readonly redis: IORedis | undefined;
  private readonly depthQueue: Queue | undefined;
  private readonly coalescer = new WriteCoalescer();
  /** For /ready: whether batches commit (last outcome) and could commit now (probes). */
  readonly writes: WriteReadiness;
  private stopping = false;

  constructor(
    @Inject(VELLUM_CONFIG) private readonly config: VellumConfig,
    db: VellumDatabase,
    signer: LogSigner,
    identity: LogIdentity,
    @Inject(SEQUENCER_OPTIONS) private readonly options: SequencerOptions,
    @Optional() metrics?: WritePathMetrics,
    @Optional() health?: HealthService,
  ) {
    this.metrics = metrics ?? new WritePathMetrics();
    const names = queueNames(config.redisPrefix);
    if (config.redisUrl !== undefined) {
      this.redis = connect(config.redisUrl, commandOptions(), 'vellum-sequencer-publish', this.logger);
      this.depthQueue = new Queue(names.queue, { connection: this.redis, prefix: names.prefix });
      this.depthQueue.on('error', () => undefined);
    }
    this.writes = new WriteReadiness({
      probes: [...storageProbes(config, db), { name: 'the sequencer lease', run: () => this.leaseProblem() }],
      intervalMs: 1000,
      timeoutMs: 2000,
    });
    const writes = this.writes;
    this.engine = new SequencerEngine({
      config,
      db,
      signer,
      identity,
      options: {
        ...options,
        onCommitted: (b) => {
          options.onCommitted?.(b);
          writes.committed();
        },
        onFailed: (n, e) => {
          options.onFailed?.(n, e);
          writes.failed(e.message);
        },
      },
      metrics: this.metrics,
      sink: this.redis !== undefined ? new RedisBatchSink(this.redis, names, this.coalescer) : undefined,
    });
    // With Redis the API processes register the same gauge over the same BullMQ queue; whichever
    // registers last answers, and both read one number.
    this.metrics.gauge('vellum_queue_depth', 'entries waiting to be sequenced (in Redis: all replicas)', () =>
      this.queueDepth(),
    );
    health?.register('sequencer', () => this.health());
    health?.register('writes', () => this.writes.check());
  }

  private get ttl(): number {
    return this.options.leaseTtlMs ?? this.config.leaseTtlMs;
  }

  async onModuleInit(): Promise<void> {
    this.writes.start();
    const url = this.config.redisUrl;
    if (url === undefined) {
      await this.engine.startBlocking();
      return;
    }
    const names = queueNames(this.config.redisPrefix);
    const engine = this.engine;
    const key = loadQueueKey(this.config);
    const rejected = jobsRejectedCounter(this.metrics.registry);
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
            key,
            onRejected: () => rejected.inc(),
          },
          engine.queue,
        ),
    );
  }

  /** The latest checkpoint this process committed (undefined before boot finished). */
  latestCheckpoint(): SignedCheckpoint | undefined {
    return this.engine.sequencer.checkpoint;
  }

  /** 'active', 'standby', 'failed', ... */
  sequencerState(): string {
    return this.engine.state;
  }

  private async queueDepth(): Promise<number> {
    if (this.depthQueue === undefined) return this.engine.pending;
    const c = await this.depthQueue.getJobCounts('wait', 'active', 'prioritized', 'paused');
    return (c.wait ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0);
  }

  /**
   * Another live process holds the lease this active sequencer needs. Not held and free is no
   * problem (the next batch takes it); a Redis-mode standby is meant to be without it.
   */
  private async leaseProblem(): Promise<string | undefined> {
    const lease = this.engine.lease;
    if (this.engine.state !== 'active' || lease.held) return undefined;
    const who = await lease.describe();
    if (who === undefined || who.holder === lease.holder || who.expiresAt <= Date.now()) return undefined;
    return `the sequencer lease is held by ${who.holder}; this process cannot commit`;
  }

  private health(): { ok: boolean; detail: string } {
    const s = this.engine.state;
    const parts = [`sequencer ${s}${s === 'failed' ? `: ${this.engine.failureReason ?? ''}` : ''}`];
    let ok = s !== 'failed' && s !== 'stopped';
    if (this.redis !== undefined) {
      const up = this.redis.status === 'ready';
      parts.push(`redis ${up ? 'connected' : 'unreachable'}`);
      if (!up) ok = false;
    }
    return { ok, detail: parts.join(', ') };
  }

  /**
   * Sequence what was taken, release the lease for the next sequencer. Runs after every module's
   * onModuleDestroy, so the write paths have stopped taking entries and drained what they had
   * while this sequencer still answered them, and before the database closes.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.shutdown();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.shutdown();
  }

  private async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.engine.stop();
    await this.writes.stop();
    await this.depthQueue?.close().catch(() => undefined);
    this.redis?.disconnect();
  }
}
