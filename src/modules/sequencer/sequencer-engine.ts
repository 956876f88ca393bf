import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { VellumError } from '../../core/errors';
import type { VellumConfig } from '../config/config';
import type { WritePathMetrics } from '../metrics/write-path-metrics';
import type { LogIdentity } from '../identity/log-identity';
import { RepeatLimitedLog } from '../logging/repeat-limited-log';
import type { LogSigner } from '../signer/log-signer';
import type { VellumDatabase } from '../storage/database';
import { Batcher } from './batcher';
import type { PreparedBatch } from './sequencer-batch';
import { InProcessQueue } from '../write-path/entry-queue';
import { SequencerLease, defaultHolderId, holderIsDead } from './lease';
import type { BatchSink } from '../write-path/batch-sink';
import { LogStateError, Sequencer } from './sequencer';
import type { SequencerOptions } from './sequencer.options';

export type EngineState = 'starting' | 'standby' | 'active' | 'failed' | 'stopped';

/** Something that feeds the engine's queue while the engine is active (the BullMQ consumer). */
export interface EntrySource {
  start(): void;
  /**
   * Stops feeding; resolves once every entry it fed has been answered. `force`: resolves at once
   * and gives up what it holds (the queue re-delivers it elsewhere).
   */
  close(force?: boolean): Promise<void>;
}

export interface EngineDeps {
  readonly config: VellumConfig;
  readonly db: VellumDatabase;
  readonly signer: LogSigner;
  readonly identity: LogIdentity;
  readonly options: SequencerOptions;
  readonly metrics: WritePathMetrics;
  /** Where batch outcomes go (default: answered in this process with proofs). */
  readonly sink?: BatchSink;
}

/** `p`, or UNAVAILABLE after `ms` (p keeps running; its outcome is ignored). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  p.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(
      () => reject(new VellumError('UNAVAILABLE', `${what} took longer than ${ms} ms`)),
      ms,
    );
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e as Error);
      },
    );
  });
}

/**
 * The sequencing half of a process: lease, in-memory queue, batcher, sequencer.
 *
 * Embedded mode (no REDIS_URL): boot waits for the lease (startBlocking), entries come from this
 * process's API through `queue`. Redis mode: startBackground() runs a standby/active loop; while
 * active, an EntrySource (the BullMQ consumer) feeds `queue`; losing the lease (fencing token
 * moved) stops the source and returns to standby, so at most one process takes jobs for long
 * and the fencing check in every batch transaction guarantees only one ever commits.
 */
export class SequencerEngine {
  private readonly logger = new Logger('Sequencer');
  readonly lease: SequencerLease;
  readonly sequencer: Sequencer;
  readonly queue: InProcessQueue;
  readonly batcher: Batcher<PreparedBatch>;
  private stateValue: EngineState = 'starting';
  private failure: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private source: EntrySource | undefined;
  private sourceFactory: (() => EntrySource) | undefined;
  private stopping = false;
  private readonly ttlMs: number;

  constructor(private readonly deps: EngineDeps) {
    const { config, db, signer, identity, options, metrics } = deps;
    const now = options.now ?? Date.now;
    this.ttlMs = options.leaseTtlMs ?? config.leaseTtlMs;
    this.lease = new SequencerLease(db, options.holderId ?? defaultHolderId(), this.ttlMs, now);
    // Max age is measured on the monotonic clock: a wall-clock jump must not stall or flush batches.
    const mono = () => performance.now();
    const seqOptions: SequencerOptions = {
      ...options,
      onCommitted: (b) => {
        options.onCommitted?.(b);
        const t = mono();
        metrics.batches.inc({ outcome: 'committed' });
        metrics.entriesSequenced.inc(b.appended);
        metrics.checkpointSize.set(b.size);
        for (const at of b.enqueuedAt) metrics.sequencingLatency.observe((t - at) / 1000);
      },
      onFailed: (n, e) => {
        options.onFailed?.(n, e);
        metrics.batches.inc({ outcome: 'failed' });
      },
    };
    this.sequencer = new Sequencer(db, signer, identity, this.lease, seqOptions, deps.sink);
    this.queue = new InProcessQueue(mono);
    this.batcher = new Batcher(
      this.queue,
      {
        prepare: (batch) => this.sequencer.prepare(batch),
        commit: async (prepared) => {
          const t0 = mono();
          await this.sequencer.commit(prepared);
          metrics.batchDuration.observe((mono() - t0) / 1000);
        },
      },
      {
        maxSize: config.batchMaxSize,
        maxAgeMs: config.batchMaxAgeMs,
        now: mono,
        onCut: (size, ageMs) => {
          metrics.batchSize.observe(size);
          metrics.batchAge.observe(ageMs / 1000);
        },
      },
    );
  }

  get state(): EngineState {
    return this.stateValue;
  }

  /** Why the engine gave up (state 'failed'). */
  get failureReason(): string | undefined {
    return this.failure;
  }

  /** Entries taken from the source and not yet answered (queued plus the batch in flight). */
  get pending(): number {
    return this.queue.length + this.batcher.inFlightEntries;
  }

  private setState(s: EngineState): void {
    this.stateValue = s;
    this.deps.metrics.sequencerActive.set(s === 'active' ? 1 : 0);
  }

  /** Embedded boot: wait for the lease, load and check the committed tree, start taking entries. */
  async startBlocking(): Promise<void> {
    let waiting = false;
    while (!(await this.lease.tryAcquire())) {
      if (this.stopping) return;
      const who = await this.lease.describe();
      if (who !== undefined && holderIsDead(who.holder, this.lease.holder)) {
        this.logger.warn(`taking over the sequencer lease from ${who.holder}, which is no longer running`);
        if (await this.lease.tryAcquire(who.holder)) break;
      }
      if (!waiting) {
        this.logger.warn(
          `sequencer lease held by ${who?.holder ?? 'unknown'} until ${new Date(who?.expiresAt ?? 0).toISOString()}; waiting`,
        );
        waiting = true;
      }
      await sleep(Math.min(1000, Math.max(50, this.ttlMs / 4)));
    }
    this.logger.log(`holding the sequencer lease as ${this.lease.holder} (token ${this.lease.fencingToken})`);
    try {
      await this.sequencer.start();
    } catch (e) {
      // Refusing to start: let a fixed or restored instance take over without waiting for expiry.
      await this.lease.release().catch(() => undefined);
      this.failure = (e as Error).message;
      this.setState('failed');
      throw e;
    }
    this.deps.metrics.checkpointSize.set(this.sequencer.checkpoint?.size ?? 0);
    // Idle renewal, so a standby sequencer does not take over a healthy idle one. Batches renew
    // the lease themselves; database transactions are serialized, so this never interleaves.
    const renewals = new RepeatLimitedLog(this.logger);
    this.heartbeat = setInterval(
      () => {
        if (!this.lease.held) return;
        this.lease
          .renew()
          .catch((e: unknown) => renewals.warn(`lease renewal failed: ${(e as Error).message}`));
      },
      Math.max(50, Math.floor(this.ttlMs / 3)),
    );
    this.heartbeat.unref();
    this.setState('active');
  }

  /**
   * Redis mode: returns at once; a loop waits as standby for the lease, becomes active (loads the
   * tree, starts `source`), renews the lease every ttl/4 even when idle, and drops back to standby
   * if the lease moves. A stored log that fails its checks stops the loop (state 'failed').
   */
  startBackground(source: () => EntrySource): void {
    this.sourceFactory = source;
    this.setState('standby');
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const tick = Math.max(50, Math.floor(this.ttlMs / 4));
    let announcedWait = false;
    let lastWarn = 0;
    let renewedAt = Date.now();
    while (!this.stopping) {
      try {
        if (this.stateValue !== 'active') {
          // Bounded: a database that stopped answering must not freeze this loop.
          if (await within(this.takeLease(), this.ttlMs, 'taking the lease')) {
            await this.activate();
            renewedAt = Date.now();
            announcedWait = false;
          } else if (!announcedWait) {
            const who = await this.lease.describe();
            this.logger.log(
              `standby: the sequencer lease is held by ${who?.holder ?? 'unknown'}; taking over when it lapses`,
            );
            announcedWait = true;
          }
        } else if (!this.lease.held) {
          await this.deactivate('the sequencer lease moved to another process');
        } else {
          // Throws UNAVAILABLE and forgets the token if the lease moved: the next tick steps down.
          await within(this.lease.renew(), Math.max(tick, this.ttlMs / 2), 'renewing the lease');
          renewedAt = Date.now();
        }
      } catch (e) {
        if (this.stateValue === 'active' && Date.now() - renewedAt > this.ttlMs) {
          // The lease has lapsed without a renewal: another sequencer may hold it by now. Stop
          // holding jobs at once (their locks lapse and they are re-delivered to whoever is
          // active); our own batches can no longer commit (their fencing check fails).
          this.lease.forget();
          await this.deactivate(
            `the lease could not be renewed for ${Date.now() - renewedAt} ms (${(e as Error).message})`,
            true,
          );
        }
        if (e instanceof LogStateError) {
          this.logger.error(e.message);
          this.failure = e.message;
          await this.deactivate('the stored log failed its checks');
          await this.lease.release().catch(() => undefined);
          this.setState('failed');
          return;
        }
        if (Date.now() - lastWarn > 10_000) {
          lastWarn = Date.now();
          this.logger.warn(`sequencer ${this.stateValue}: ${(e as Error).message}`);
        }
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, tick);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = undefined;
    }
  }

  private async takeLease(): Promise<boolean> {
    if (await this.lease.tryAcquire()) return true;
    const who = await this.lease.describe();
    if (who !== undefined && holderIsDead(who.holder, this.lease.holder)) {
      this.logger.warn(`taking over the sequencer lease from ${who.holder}, which is no longer running`);
      return this.lease.tryAcquire(who.holder);
    }
    return false;
  }

  private async activate(): Promise<void> {
    this.logger.log(
      `active: holding the sequencer lease as ${this.lease.holder} (token ${this.lease.fencingToken})`,
    );
    // Loads and checks the committed tree (LogStateError if it is inconsistent), publishes the key.
    await this.sequencer.start();
    this.deps.metrics.checkpointSize.set(this.sequencer.checkpoint?.size ?? 0);
    this.source = this.sourceFactory!();
    this.source.start();
    this.setState('active');
  }

  private async deactivate(why: string, force = false): Promise<void> {
    if (this.source === undefined && this.stateValue !== 'active') return;
    this.logger.warn(`standby: ${why}; no longer taking entries`);
    this.setState('standby');
    const s = this.source;
    this.source = undefined;
    await s?.close(force);
  }

  /**
   * Stop taking entries, sequence what was taken, release the lease for the next sequencer.
   * Embedded: entries still queued are sequenced first. Redis: the source stops fetching jobs and
   * the jobs it holds run to the end of their batches.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.wake?.();
    await this.loop;
    const s = this.source;
    this.source = undefined;
    await s?.close();
    await this.batcher.drain();
    await this.batcher.stop();
    this.queue.close(new VellumError('UNAVAILABLE', 'the sequencer is shutting down'));
    if (this.stateValue !== 'failed') this.setState('stopped');
    try {
      await this.lease.release();
    } catch (e) {
      // The lease then simply expires after its TTL.
      this.logger.warn(`could not release the sequencer lease: ${(e as Error).message}`);
    }
  }
}
