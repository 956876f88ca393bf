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
import {
  type Committed,
  PendingLeaves,
  type PreparedBatch,
  planBatch,
  sequenceCandidates,
} from './sequencer-batch';
import { type Integrated, integrateFresh, writeIntegrated } from './sequencer-integrate';
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
 * Sequences, integrates and signs batches in two stages (prepare, commit) so that the next batch
 * is prepared while one commits. The in-memory tree (appender) equals the committed tree plus
 * the batches prepared and not yet committed, in order; if a batch does not commit, the tree is
 * re-read from the database and the batches behind it are prepared again.
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
  /** Bumped whenever memory is reset to the database: batches prepared before are stale. */
  private generation = 0;
  private reloading: Promise<void> | undefined;
  /** Leaves of prepared batches a dedup lookup may not see in the database yet. */
  private readonly pending = new PendingLeaves();

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
  private reload(): Promise<void> {
    // One reload at a time: a failed commit and the prepare behind it may both ask for one.
    this.reloading ??= (async () => {
      this.needsReload = true;
      this.generation++;
      this.pending.clear();
      this.tiles.clear();
      try {
        const tree = await loadCommittedTree(this.readQuery, this.tiles, this.identity);
        this.appender = tree.appender;
        this.head = tree.head;
        this.generation++;
        this.needsReload = false;
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
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

  /** One batch, both stages back to back. Never throws; every ticket is answered exactly once. */
  async integrate(tickets: readonly QueueTicket[]): Promise<void> {
    const prepared = await this.prepare(tickets);
    if (prepared !== undefined) await this.commit(prepared);
  }

  /**
   * Stage 1, nothing durable: dedup against committed leaves and the batches ahead, indices,
   * the tree advanced in memory, SETs and checkpoint signed off the event loop. Runs while the
   * batch ahead commits; batches are prepared one at a time and commit in the order prepared.
   * Resolves undefined when it already answered every ticket (failure).
   */
  async prepare(tickets: readonly QueueTicket[]): Promise<PreparedBatch | undefined> {
    try {
      for (;;) {
        await this.ensureReady();
        const generation = this.generation;
        const plan = planBatch(tickets);
        const sequenced = await sequenceCandidates(this.readQuery, plan.candidates, this.pending);
        // A reload while the lookup ran (the batch ahead failed): the tree moved back; again.
        if (generation !== this.generation || this.needsReload) continue;
        const basisSize = this.appender.size;
        if (sequenced.fresh.length === 0) {
          return {
            tickets,
            plan,
            generation,
            basisSize,
            sequenced,
            appended: [],
            checkpoint: undefined,
            tiles: [],
            pendingHandle: undefined,
          };
        }
        const appender = this.appender;
        // Advances the in-memory tree past the committed one; every failure path ends in reload().
        const integrated = await integrateFresh(sequenced.fresh, appender, this.signer, this.now);
        if (generation !== this.generation) continue;
        const pendingHandle = this.pending.add(integrated.appended.map((a) => a.entry));
        this.options.onPrepared?.({ firstIndex: basisSize, count: integrated.appended.length });
        return { tickets, plan, generation, basisSize, sequenced, ...integrated, pendingHandle };
      }
    } catch (e) {
      await this.failAndReload(tickets, e);
      return undefined;
    }
  }

  /**
   * Stage 2: one transaction (fence, the tree it extends is the committed one, rows, COMMIT),
   * then the answers. A batch prepared on a tree that has since been reloaded fails unwritten.
   * Never throws.
   */
  async commit(batch: PreparedBatch): Promise<void> {
    const b = batch;
    if (b.generation !== this.generation) {
      // The batch ahead did not commit and the tree was reloaded: this one's indices and
      // duplicate answers were computed on a tree that is gone. Not retried here, since the next
      // batch may be preparing already and must stay behind; its submitters retry.
      await this.fail(
        b.tickets,
        new VellumError('UNAVAILABLE', 'the batch ahead of this entry was not committed'),
      );
      return;
    }
    const head = this.head;
    let committed: Committed;
    try {
      committed = await this.db.transaction(async (tx) => {
        const q = txQuery(tx);
        // Fencing first: takes the lease row (and on SQLite the write lock) before any read.
        await this.lease.fence(tx);
        const dbHead = await latestCheckpoint(q);
        if (
          dbHead === undefined ||
          head === undefined ||
          dbHead.size !== head.size ||
          !dbHead.rootHash.equals(head.rootHash) ||
          (b.checkpoint !== undefined && b.basisSize !== head.size)
        ) {
          throw new VellumError(
            'INCONSISTENT_LOG',
            `the database is at size ${dbHead?.size ?? 'none'} but this sequencer is at ${head?.size ?? 'none'}` +
              ` and the batch extends size ${b.basisSize}`,
          );
        }
        const { stored, storedEntries } = b.sequenced;
        if (b.checkpoint === undefined)
          return { appended: [], stored, storedEntries, checkpoint: dbHead, tiles: [] };
        await writeIntegrated(q, b as Integrated, this.now());
        await this.options.beforeCommit?.({ firstIndex: b.basisSize, count: b.appended.length });
        // Durable step: COMMIT (in db.transaction). Before it returns, a crash leaves nothing of
        // this batch (SQLite ignores uncommitted WAL frames, PostgreSQL aborts the transaction),
        // nor of the batch prepared behind it (never written); no submitter has an answer and
        // they retry. After it, entries, tiles and the checkpoint covering them are all durable
        // together; a crash before the answers below go out loses only the answers, and a retry
        // gets 409 pointing at the stored entry.
        return { appended: b.appended, stored, storedEntries, checkpoint: b.checkpoint, tiles: b.tiles };
      });
    } catch (e) {
      await this.failAndReload(b.tickets, e);
      return;
    }
    if (b.pendingHandle !== undefined) this.pending.committed(b.pendingHandle);

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
      rejectDuplicates(committed, b.plan, this.identity);
      await answerAppended(committed, this.tiles, this.logger);
      return;
    }
    await this.sink.committed(toCommittedBatch(committed, b.plan));
  }

  /**
   * A batch that did not commit (or could not be prepared): answer its tickets, then bring memory
   * back to whatever the database holds; any batch prepared behind it becomes stale and is
   * prepared again. If even the reload fails, the next batch tries again before writing.
   */
  private async failAndReload(tickets: readonly QueueTicket[], e: unknown): Promise<void> {
    const err = unavailable(e);
    if (isVellumError(e, 'INCONSISTENT_LOG')) this.failures.error(e.message);
    else this.failures.warn(`a batch was not committed: ${(e as Error).message}`);
    this.needsReload = true;
    this.generation++;
    this.pending.clear();
    // Answer first: the reload below may itself wait on an unreachable database.
    await this.fail(tickets, err);
    try {
      await this.reload();
    } catch (reloadError) {
      this.failures.error(`cannot reload the committed tree: ${(reloadError as Error).message}`);
    }
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
