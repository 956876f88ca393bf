import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { VellumError } from '../../core/errors';
import { HASH_SIZE, leafHash } from '../../core/merkle/hash';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import type { AcceptedEntry, PreparedEntry, SignedCheckpoint } from '../log/log.types';
import { LogIdentity } from '../signer/log-identity';
import { LogSigner } from '../signer/log-signer';
import { VellumDatabase } from '../storage/database';
import { Batcher } from './batcher';
import { type EntryQueue, InProcessQueue } from './entry-queue';
import { SequencerLease, defaultHolderId, holderIsDead } from './lease';
import { Sequencer } from './sequencer';
import { SEQUENCER_OPTIONS, type SequencerOptions } from './sequencer.options';

const DEFAULT_LEASE_TTL_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The write path's front door. submit() queues a prepared entry; the batcher cuts batches; the
 * sequencer commits each batch in one transaction and only then answers its submitters.
 */
@Injectable()
export class LogWriter implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger('LogWriter');
  private readonly now: () => number;
  private readonly queue: EntryQueue;
  private readonly lease: SequencerLease;
  private readonly sequencer: Sequencer;
  private readonly batcher: Batcher;
  private heartbeat: NodeJS.Timeout | undefined;
  private accepting = false;
  private stopping = false;

  constructor(
    @Inject(VELLUM_CONFIG) private readonly config: VellumConfig,
    db: VellumDatabase,
    signer: LogSigner,
    identity: LogIdentity,
    @Inject(SEQUENCER_OPTIONS) private readonly options: SequencerOptions,
  ) {
    this.now = options.now ?? Date.now;
    const holder = options.holderId ?? defaultHolderId();
    this.lease = new SequencerLease(db, holder, this.leaseTtlMs, this.now);
    this.sequencer = new Sequencer(db, signer, identity, this.lease, options);
    // Max age is measured on the monotonic clock: a wall-clock jump must not stall or flush batches.
    const mono = () => performance.now();
    this.queue = new InProcessQueue(mono);
    this.batcher = new Batcher(this.queue, (batch) => this.sequencer.integrate(batch), {
      maxSize: config.batchMaxSize,
      maxAgeMs: config.batchMaxAgeMs,
      now: mono,
    });
  }

  private get leaseTtlMs(): number {
    return this.options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  }

  /** Boot: wait for the lease, load and check the committed tree, start taking entries. */
  async onModuleInit(): Promise<void> {
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
      await sleep(Math.min(1000, Math.max(50, this.leaseTtlMs / 4)));
    }
    this.logger.log(`holding the sequencer lease as ${this.lease.holder} (token ${this.lease.fencingToken})`);
    try {
      await this.sequencer.start();
    } catch (e) {
      // Refusing to start: let a fixed or restored instance take over without waiting for expiry.
      await this.lease.release().catch(() => undefined);
      throw e;
    }
    // Idle renewal, so a standby sequencer does not take over a healthy idle one. Batches renew
    // the lease themselves; database transactions are serialized, so this never interleaves.
    this.heartbeat = setInterval(
      () => {
        if (!this.lease.held) return;
        this.lease
          .renew()
          .catch((e: unknown) => this.logger.warn(`lease renewal failed: ${(e as Error).message}`));
      },
      Math.max(50, Math.floor(this.leaseTtlMs / 3)),
    );
    this.heartbeat.unref();
    this.accepting = true;
  }

  /**
   * Resolves once the batch holding the entry has committed, with the entry, the checkpoint of
   * that batch and the entry's inclusion proof in it. Rejects DUPLICATE_ENTRY (details: entryId,
   * index of the first), PUSHBACK when too much is waiting, UNAVAILABLE when the batch failed.
   */
  submit(entry: PreparedEntry): Promise<AcceptedEntry> {
    if (!this.accepting) {
      return Promise.reject(new VellumError('UNAVAILABLE', 'the sequencer is not accepting entries'));
    }
    const pending = this.pendingCount();
    if (pending >= this.config.maxPending) {
      return Promise.reject(
        new VellumError('PUSHBACK', `${pending} entries are waiting to be sequenced; retry later`, {
          pending,
        }),
      );
    }
    if (entry.leafHash.length !== HASH_SIZE || !leafHash(entry.body).equals(entry.leafHash)) {
      return Promise.reject(
        new VellumError('INVALID_ARGUMENT', 'leafHash is not the RFC 6962 leaf hash of body'),
      );
    }
    return this.queue.enqueue(entry);
  }

  /** Entries accepted by submit() and not yet answered (queued plus the batch in flight). */
  pendingCount(): number {
    return this.queue.length + this.batcher.inFlightEntries;
  }

  /** The latest checkpoint this process committed (undefined before boot finished). */
  latestCheckpoint(): SignedCheckpoint | undefined {
    return this.sequencer.checkpoint;
  }

  /** Stop taking entries, sequence what is queued, release the lease for the next sequencer. */
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
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    await this.batcher.drain();
    await this.batcher.stop();
    this.queue.close(new VellumError('UNAVAILABLE', 'the sequencer is shutting down'));
    try {
      await this.lease.release();
    } catch (e) {
      // The lease then simply expires after its TTL.
      this.logger.warn(`could not release the sequencer lease: ${(e as Error).message}`);
    }
  }
}
