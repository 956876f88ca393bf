import { Logger } from '@nestjs/common';
import { VellumError, isVellumError } from '../../core/errors';
import { MerkleAppender } from '../../core/merkle/appender';
import { EMPTY_ROOT } from '../../core/merkle/hash';
import type { SignedCheckpoint } from '../log/log.types';
import { LogIdentity } from '../identity/log-identity';
import { RepeatLimitedLog } from '../logging/repeat-limited-log';
import { LogSigner } from '../signer/log-signer';
import { publishPublicKey } from '../identity/published-identity';
import type { SqlTx, VellumDatabase } from '../storage/database';
import { DbTileSource } from '../storage/db-tile-source';
import { type QueryFn, insertCheckpoint, latestCheckpoint } from '../storage/log-queries';
import type { BatchSink } from '../write-path/batch-sink';
import type { QueueTicket } from '../write-path/entry-queue';
import type { SequencerLease } from './lease';
import { type Committed, planBatch, sequenceCandidates } from './sequencer-batch';
import { integrateFresh } from './sequencer-integrate';
import { answerAppended, rejectDuplicates, toCommittedBatch } from './sequencer-publish';
import { loadCommittedTree } from './sequencer-state';
import type { SequencerOptions } from './sequencer.options';

export { LogStateError } from './sequencer-state';

function txQuery(tx: SqlTx): QueryFn {
  return (sql, params) => tx.query(sql, params);
}

function unavailable(e: unknown): VellumError {
  if (isVellumError(e, 'UNAVAILABLE')) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new VellumError('UNAVAILABLE', `the batch holding this entry was not committed: ${why}`);
}

/**
 * Sequences, integrates and signs batches. The in-memory tree (appender) always equals the
 * committed tree between batches: it is advanced inside the batch transaction and, if that
 * transaction does not commit, re-read from the database before anything else happens.
 */
export class Sequencer {
  private readonly logger = new Logger('Sequencer');
  /** Batch failures: a full disk or a lost database fails every batch the same way. */
  private readonly failures = new RepeatLimitedLog(this.logger);
  private readonly tiles: DbTileSource;
  private appender: MerkleAppender = MerkleAppender.empty();
  private head: SignedCheckpoint | undefined;
  /** Set when memory may differ from the database (a batch failed, the lease moved). */
  private needsReload = true;
  private readonly now: () => number;
  private readonly readQuery: QueryFn;

  constructor(
    private readonly db: VellumDatabase,
    private readonly signer: LogSigner,
    private readonly identity: LogIdentity,
    private readonly lease: SequencerLease,
    private readonly options: SequencerOptions,
    /** Where outcomes go; default: answer tickets in this process with proofs. */
    private readonly sink?: BatchSink,
  ) {
    this.now = options.now ?? Date.now;
    this.readQuery = (sql, params) => db.read(sql, params);
    this.tiles = new DbTileSource(db, { capacity: options.tileCacheSize ?? 4096, cachePartial: true });
  }

  /** The latest committed checkpoint (after start()). */
  get checkpoint(): SignedCheckpoint | undefined {
    return this.head;
  }

  /**
   * Boot, with the lease held: load the committed tree and check it, or on first boot sign and
   * store the empty tree's checkpoint. Throws LogStateError if the stored log is inconsistent.
   */
  async start(): Promise<void> {
    if ((await latestCheckpoint(this.readQuery)) === undefined) {
      const empty: SignedCheckpoint = {
        size: 0,
        rootHash: Buffer.from(EMPTY_ROOT),
        note: this.signer.signCheckpoint(0, Buffer.from(EMPTY_ROOT)),
      };
      // Durable step: the size-0 checkpoint. A crash before COMMIT leaves an empty database and
      // the next boot signs again (same bytes: checkpoint signatures are deterministic).
      await this.db.transaction(async (tx) => {
        await this.lease.fence(tx);
        if ((await latestCheckpoint(txQuery(tx))) === undefined)
          await insertCheckpoint(txQuery(tx), empty, this.now());
      });
      this.logger.log(`new log ${this.identity.origin}: signed the empty tree's checkpoint`);
    }
    await this.reload();
    // The stored log verified under our key: publish that key for the processes without the
    // private key (API replicas, monitors). Fenced, so only the lease holder ever writes it.
    await this.db.transaction(async (tx) => {
      await this.lease.fence(tx);
      await publishPublicKey(tx, this.identity.publicKey, this.identity.noteKey);
    });
    this.logger.log(
      `log ${this.identity.origin} at size ${this.appender.size}, root ${this.appender.root().toString('hex')}`,
    );
  }

  /**
   * Makes memory equal to the committed state: latest checkpoint, its signature under our key,
   * the right-edge tiles it implies, and the entry count. Never rebuilds from leaves.
   */
  private async reload(): Promise<void> {
    this.needsReload = true;
    this.tiles.clear();
    const tree = await loadCommittedTree(this.readQuery, this.tiles, this.identity);
    this.appender = tree.appender;
    this.head = tree.head;
    this.needsReload = false;
  }

  /** Before a batch: hold the lease and have memory equal to the database. */
  private async ensureReady(): Promise<void> {
    if (!this.lease.held) {
      if (!(await this.lease.tryAcquire())) {
        const who = await this.lease.describe();
        throw new VellumError(
          'UNAVAILABLE',
          `another sequencer (${who?.holder ?? 'unknown'}) holds the lease; this one cannot write`,
        );
      }
      this.logger.warn(
        `re-acquired the sequencer lease (token ${this.lease.fencingToken}); reloading the tree`,
      );
      this.needsReload = true;
    }
    if (this.needsReload) await this.reload();
  }

  /**
   * One batch: dedup, sequence, integrate, sign, commit, then answer every ticket. Never throws;
   * each ticket is resolved or rejected exactly once.
   */
  async integrate(tickets: readonly QueueTicket[]): Promise<void> {
    try {
      await this.ensureReady();
    } catch (e) {
      await this.fail(tickets, unavailable(e));
      return;
    }

    const plan = planBatch(tickets);

    let committed: Committed;
    try {
      committed = await this.db.transaction(async (tx) => {
        const q = txQuery(tx);
        // Fencing first: takes the lease row (and on SQLite the write lock) before any read.
        await this.lease.fence(tx);
        const dbHead = await latestCheckpoint(q);
        if (
          dbHead === undefined ||
          dbHead.size !== this.appender.size ||
          !dbHead.rootHash.equals(this.appender.root())
        ) {
          throw new VellumError(
            'INCONSISTENT_LOG',
            `the database is at size ${dbHead?.size ?? 'none'} but this sequencer is at ${this.appender.size}`,
          );
        }

        const { stored, storedEntries, fresh } = await sequenceCandidates(q, plan.candidates);
        if (fresh.length === 0) return { appended: [], stored, storedEntries, checkpoint: dbHead, tiles: [] };

        const firstIndex = this.appender.size;
        // Integrate: advances the in-memory tree before COMMIT; every failure path below ends in
        // reload(), which puts it back to the committed state.
        const { appended, checkpoint, tiles } = await integrateFresh(
          q,
          fresh,
          this.appender,
          this.signer,
          this.identity,
          this.now,
        );
        await this.options.beforeCommit?.({ firstIndex, count: fresh.length });
        // Durable step: COMMIT (in db.transaction). Before it returns, a crash leaves nothing of
        // this batch (SQLite ignores uncommitted WAL frames, PostgreSQL aborts the transaction);
        // no submitter has an answer and they retry. After it, entries, tiles and the checkpoint
        // covering them are all durable together; a crash before the answers below go out
        // loses only the answers, and a retry gets 409 pointing at the stored entry.
        return { appended, stored, storedEntries, checkpoint, tiles };
      });
    } catch (e) {
      // Rolled back (or the COMMIT's outcome is unknown): bring memory back to whatever the
      // database holds. If even that fails, the next batch tries again before writing.
      const err = unavailable(e);
      if (isVellumError(e, 'INCONSISTENT_LOG')) this.failures.error(e.message);
      else this.failures.warn(`a batch was not committed: ${(e as Error).message}`);
      this.needsReload = true;
      // Answer first: the reload below may itself wait on an unreachable database.
      await this.fail(tickets, err);
      try {
        await this.reload();
      } catch (reloadError) {
        this.failures.error(`cannot reload the committed tree: ${(reloadError as Error).message}`);
      }
      return;
    }

    await this.options.afterCommit?.({
      size: committed.checkpoint.size,
      appended: committed.appended.length,
    });
    this.tiles.put(committed.tiles);
    this.head = committed.checkpoint;
    this.options.onCommitted?.({
      size: committed.checkpoint.size,
      appended: committed.appended.length,
      enqueuedAt: committed.appended.map((a) => a.ticket.enqueuedAt),
    });
    // Publish: the answers go out only now, after COMMIT.
    if (this.sink === undefined) {
      rejectDuplicates(committed, plan, this.identity);
      if (committed.appended.length > 0) await answerAppended(committed, this.tiles, this.logger);
      return;
    }
    await this.sink.committed(toCommittedBatch(committed, plan));
  }

  private async fail(tickets: readonly QueueTicket[], err: VellumError): Promise<void> {
    this.options.onFailed?.(tickets.length, err);
    if (this.sink === undefined) {
      for (const t of tickets) t.reject(err);
      return;
    }
    await this.sink.failed(tickets, err);
  }
}
