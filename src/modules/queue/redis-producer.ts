import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import type IORedis from 'ioredis';
import { VellumError } from '../../core/errors';
import type { LogReader } from '../log/log-reader.service';
import type { AcceptedEntry, PreparedEntry, StoredEntry } from '../log/log.types';
import type { WritePathMetrics } from '../metrics/write-path-metrics';
import type { LogIdentity } from '../identity/log-identity';
import { findStoredLeaves } from '../storage/log-queries';
import { JobAdder } from './job-adder';
import { PendingGauge } from './pending-gauge';
import {
  RecordCheckpoints,
  type Waiter,
  answerWaiters,
  duplicateOf,
  readCreators,
} from './submission-answers';
import { rateLimitedLog } from '../logging/repeat-limited-log';
import { blockingOptions, commandOptions, connect } from './redis-connection';
import {
  type BatchRecord,
  type JobData,
  type QueueNames,
  type RecordEntry,
  Outcome,
  decodeRecord,
  submissionToken,
} from './wire';

export interface RedisProducerOptions {
  readonly url: string;
  readonly names: QueueNames;
  /** Entries queued in Redis (all replicas) beyond which submissions get PUSHBACK. */
  readonly maxPending: number;
  /** A submission not answered after this long gets 503 (its entry may still be logged later). */
  readonly submitTimeoutMs: number;
  /** How often unanswered submissions are looked up in the database (missed records, lost jobs). */
  readonly sweepMs?: number;
  /** Age after which a submission is looked up by the sweep. */
  readonly sweepAfterMs?: number;
  /** How often the queue depth is read for back-pressure. */
  readonly depthRefreshMs?: number;
  /** The queue secret each job is MACed with (job-auth.ts). */
  readonly key: Buffer;
}

const RETRY_AFTER_S = 1;

function unavailable(message: string): VellumError {
  return new VellumError('UNAVAILABLE', message, { retryAfterSeconds: RETRY_AFTER_S });
}

/**
 * The API side of the Redis hand-off (REDIS_URL set): enqueue() adds a BullMQ job whose id is the
 * entry's leaf hash and waits; a reader follows the sequencer's batch-results stream and answers
 * the waiting submissions of this process, computing each inclusion proof from the database's
 * tiles against the batch's checkpoint (verified under the log key first).
 *
 * Nothing here is durable: a process crash loses only waiting requests (never an acknowledged
 * entry, which is in PostgreSQL before any answer). A job id is the leaf hash, so a submission
 * while the same entry is still queued joins that job instead of queueing it twice.
 *
 * Redis is trusted for availability, not integrity of the tree: every checkpoint is checked
 * against the log's public key and every proof against that checkpoint before it is served.
 */
export class RedisProducer {
  private readonly logger = new Logger('Queue');
  private readonly client: IORedis;
  private readonly reader: IORedis;
  private readonly queue: Queue<JobData>;
  private readonly waiters = new Map<string, Waiter[]>();
  private waiting = 0;
  private readonly gauge = new PendingGauge();
  private lastId = '';
  private closed = false;
  /** Set by close(): no new submissions, while the waiting ones may still be answered. */
  private draining = false;
  private readLoop: Promise<void> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private depthTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private readonly checkpoints: RecordCheckpoints;
  /** Adds of one event-loop turn go out as one pipelined addBulk. */
  private readonly adder: JobAdder;
  private readonly log = rateLimitedLog(this.logger);

  constructor(
    private readonly options: RedisProducerOptions,
    private readonly logReader: LogReader,
    private readonly identity: LogIdentity,
    private readonly metrics: WritePathMetrics,
  ) {
    this.checkpoints = new RecordCheckpoints(identity, logReader);
    this.client = connect(options.url, commandOptions(), 'vellum-api', this.logger);
    this.reader = connect(options.url, blockingOptions(), 'vellum-api-results', this.logger);
    this.queue = new Queue<JobData>(options.names.queue, {
      connection: this.client,
      prefix: options.names.prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
    this.queue.on('error', (e) => this.log('BullMQ queue', e));
    this.adder = new JobAdder(this.queue, options.key, this.gauge);
  }

  /** Starts following the results stream; resolves once connected (boot waits for Redis). */
  async start(): Promise<void> {
    for (;;) {
      try {
        const last = (await this.reader.xrevrange(this.options.names.results, '+', '-', 'COUNT', 1)) as Array<
          [string, string[]]
        >;
        this.lastId = last[0]?.[0] ?? '0-0';
        break;
      } catch (e) {
        if (this.closed) return;
        this.log('waiting for Redis', e);
        await sleep(500);
      }
    }
    this.readLoop = this.follow();
    const sweepMs = this.options.sweepMs ?? 1000;
    this.sweepTimer = setInterval(() => void this.sweep(), sweepMs);
    this.sweepTimer.unref();
    this.depthTimer = setInterval(() => void this.refreshDepth(), this.options.depthRefreshMs ?? 200);
    this.depthTimer.unref();
    await this.refreshDepth();
  }

  /** True while the command connection to Redis is up. */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** Submissions of this process waiting for their batch. */
  get pendingCount(): number {
    return this.waiting;
  }

  /** Entries queued in Redis (all replicas), as last read; for back-pressure and metrics. */
  get queueDepth(): number {
    return this.gauge.queueDepth;
  }

  async readQueueDepth(): Promise<number> {
    const c = await this.queue.getJobCounts('wait', 'active', 'prioritized', 'paused');
    return (c.wait ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) + (c.paused ?? 0);
  }

  enqueue(entry: PreparedEntry): Promise<AcceptedEntry> {
    if (this.draining) return Promise.reject(unavailable('this process is shutting down'));
    if (!this.connected)
      return Promise.reject(unavailable('the entry queue (Redis) is unreachable; retry later'));
    const pending = this.gauge.pending;
    if (pending >= this.options.maxPending) {
      this.metrics.pushbacks.inc();
      return Promise.reject(
        new VellumError('PUSHBACK', `${pending} entries are waiting to be sequenced; retry later`, {
          pending,
          retryAfterSeconds: RETRY_AFTER_S,
        }),
      );
    }
    const hex = entry.leafHash.toString('hex');
    return new Promise<AcceptedEntry>((resolve, reject) => {
      const now = Date.now();
      const w: Waiter = { entry, token: submissionToken(), since: now, lastAdd: now, resolve, reject };
      const list = this.waiters.get(hex);
      this.waiting++;
      if (list !== undefined) {
        // The same entry is already being submitted from this process: that job serves both.
        list.push(w);
        return;
      }
      this.waiters.set(hex, [w]);
      this.adder.add(w.entry, w.token).catch((e: unknown) => {
        this.drop(hex, w);
        reject(unavailable(`could not queue the entry: ${(e as Error).message}`));
      });
    });
  }

  private drop(hex: string, w: Waiter): void {
    const list = this.waiters.get(hex);
    if (list === undefined) return;
    const i = list.indexOf(w);
    if (i < 0) return;
    list.splice(i, 1);
    this.waiting--;
    if (list.length === 0) this.waiters.delete(hex);
  }

  private take(hex: string): Waiter[] | undefined {
    const list = this.waiters.get(hex);
    if (list === undefined) return undefined;
    this.waiters.delete(hex);
    this.waiting -= list.length;
    return list;
  }

  private async refreshDepth(): Promise<void> {
    if (!this.connected) return;
    try {
      await this.gauge.refresh(() => this.readQueueDepth());
    } catch (e) {
      this.log('reading the queue depth', e);
    }
  }

  /** Follows the results stream from where it was, across reconnects, until close(). */
  private async follow(): Promise<void> {
    const key = this.options.names.results;
    while (!this.closed) {
      let res: Array<[string, Array<[string, string[]]>]> | null;
      try {
        res = (await this.reader.xread(
          'COUNT',
          64,
          'BLOCK',
          2000,
          'STREAMS',
          key,
          this.lastId,
        )) as typeof res;
      } catch (e) {
        if (this.closed) return;
        this.log('reading batch results', e);
        await sleep(250);
        continue;
      }
      if (res === null) continue;
      for (const [, records] of res) {
        for (const [id, fields] of records) {
          this.lastId = id;
          const text = fields[1];
          if (text === undefined) continue;
          let rec: BatchRecord;
          try {
            rec = decodeRecord(text);
          } catch (e) {
            this.logger.error(`skipping malformed batch record ${id}: ${(e as Error).message}`);
            continue;
          }
          // Not awaited: proofs read the database; the next records need not wait for them.
          void this.onRecord(rec).catch((e: unknown) =>
            this.logger.error(`answering batch record ${id}: ${(e as Error).message}`),
          );
        }
      }
    }
  }

  private async onRecord(rec: BatchRecord): Promise<void> {
    if (rec.failed !== undefined) {
      const err = unavailable(`the batch holding this entry was not committed: ${rec.failed.message}`);
      for (const hex of rec.failed.leaves) {
        const list = this.take(hex);
        if (list !== undefined) for (const w of list) w.reject(err);
      }
    }
    if (rec.checkpoint === undefined || this.waiting === 0) return;
    const mine: Array<{ e: RecordEntry; list: Waiter[] }> = [];
    for (const e of rec.entries) {
      const list = this.take(e[0]);
      if (list !== undefined) mine.push({ e, list });
    }
    if (mine.length === 0) return;
    this.metrics.answers.inc(
      { path: 'stream' },
      mine.reduce((n, m) => n + m.list.length, 0),
    );
    try {
      const cp = this.checkpoints.check(rec.checkpoint);
      const proved = mine.filter((m) => m.e[4] !== Outcome.Duplicate);
      const proofs = await this.logReader.inclusionProofs(
        proved.map((m) => m.e[1]),
        cp.size,
      );
      proved.forEach((m, i) => {
        const [, index, integratedTime, set, , creator] = m.e;
        const first = m.list[0]!;
        const entry: StoredEntry = {
          index,
          leafHash: first.entry.leafHash,
          body: first.entry.body,
          kind: first.entry.kind,
          apiVersion: first.entry.apiVersion,
          integratedTime,
          set: Buffer.from(set, 'base64'),
        };
        answerWaiters(this.identity, m.list, entry, cp, proofs[i]!, creator);
      });
      for (const m of mine) {
        if (m.e[4] === Outcome.Duplicate)
          for (const w of m.list) w.reject(duplicateOf(this.identity, w.entry, m.e[1]));
      }
    } catch (e) {
      const err =
        e instanceof VellumError && e.code === 'UNAVAILABLE'
          ? e
          : unavailable(
              `the entry was logged but its answer could not be built (${(e as Error).message}); retry to get it`,
            );
      this.logger.warn(`answering ${mine.length} submissions: ${(e as Error).message}`);
      for (const m of mine) for (const w of m.list) w.reject(err);
    }
  }

  /**
   * Every sweepMs: submissions older than sweepAfterMs are looked up in the database. Found: the
   * batch record was missed (Redis reconnect, or the sequencer died between COMMIT and
   * publishing), so answer from the stored entry against the latest checkpoint. Not found: re-add
   * the job, a no-op if it is still queued, a recovery if Redis lost it (restart without
   * persistence). Past submitTimeoutMs: 503.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.waiting === 0) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      const after = this.options.sweepAfterMs ?? 2000;
      const old: string[] = [];
      for (const [hex, list] of this.waiters) if (now - list[0]!.since >= after) old.push(hex);
      if (old.length === 0) return;
      let stored: Map<string, number>;
      try {
        stored = await findStoredLeaves(
          (sql, params) => this.logReader.readQuery(sql, params),
          old.map((h) => Buffer.from(h, 'hex')),
        );
      } catch (e) {
        this.log('looking up unanswered submissions in the database', e);
        stored = new Map();
      }
      const found = old.filter((hex) => stored.has(hex));
      const creators = found.length > 0 ? await this.creators(found, now) : new Map<string, string>();
      for (const hex of old) {
        if (stored.has(hex)) {
          const list = this.take(hex);
          if (list !== undefined) await this.answerFromDatabase(hex, list, creators.get(hex));
          continue;
        }
        const list = this.waiters.get(hex);
        if (list === undefined) continue;
        const first = list[0]!;
        if (now - first.since >= this.options.submitTimeoutMs) {
          this.take(hex);
          this.metrics.answers.inc({ path: 'timeout' }, list.length);
          const err = unavailable(
            `the entry was not sequenced within ${this.options.submitTimeoutMs} ms; it may still be logged: ` +
              'retry the same submission to get it',
          );
          for (const w of list) w.reject(err);
        } else if (this.connected && now - first.lastAdd >= 5000) {
          first.lastAdd = now;
          this.adder
            .add(first.entry, first.token)
            .catch((e: unknown) => this.log('re-queueing an unanswered entry', e));
        }
      }
    } finally {
      this.sweeping = false;
    }
  }

  /** Which submission created each of these stored leaves; missing ones answer as answerWaiters says. */
  private async creators(hexes: readonly string[], now: number): Promise<Map<string, string>> {
    let oldest = now;
    for (const hex of hexes) oldest = Math.min(oldest, this.waiters.get(hex)?.[0]?.since ?? now);
    try {
      return await readCreators(this.client, this.options.names, hexes, oldest, now);
    } catch (e) {
      this.log('reading which submissions created entries', e);
      return new Map();
    }
  }

  private async answerFromDatabase(hex: string, list: Waiter[], creator: string | undefined): Promise<void> {
    try {
      const entry = await this.logReader.getByLeafHash(Buffer.from(hex, 'hex'));
      if (entry === null) throw new Error('entry vanished');
      const cp = await this.logReader.latestCheckpoint();
      const [proof] = await this.logReader.inclusionProofs([entry.index], cp.size);
      this.metrics.answers.inc({ path: 'database' }, list.length);
      answerWaiters(this.identity, list, entry, cp, proof!, creator);
    } catch (e) {
      const err = unavailable(
        `the entry was logged but its answer could not be built (${(e as Error).message}); retry to get it`,
      );
      for (const w of list) w.reject(err);
    }
  }

  /**
   * Stops taking submissions, gives the waiting ones up to `drainMs` to be answered (the
   * sequencer is usually milliseconds away from committing them), then answers the rest 503
   * (their entries may still be logged; a retry gets them).
   */
  async close(drainMs = 5000): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const until = Date.now() + drainMs;
    while (this.waiting > 0 && Date.now() < until && this.readLoop !== undefined) await sleep(50);
    this.closed = true;
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    if (this.depthTimer !== undefined) clearInterval(this.depthTimer);
    const err = unavailable('this process is shutting down; retry the same submission');
    for (const hex of [...this.waiters.keys()]) for (const w of this.take(hex) ?? []) w.reject(err);
    this.reader.disconnect();
    await this.readLoop;
    await this.queue.close().catch(() => undefined);
    this.client.disconnect();
  }
}
