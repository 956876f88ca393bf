import { Logger } from '@nestjs/common';
import { verifyRekorCheckpoint } from '../../core/checkpoint';
import { VellumError, isVellumError } from '../../core/errors';
import { MerkleAppender } from '../../core/merkle/appender';
import { EMPTY_ROOT } from '../../core/merkle/hash';
import { inclusionProof } from '../../core/merkle/proofs';
import { verifyInclusion } from '../../core/merkle/verify';
import type { SignedCheckpoint, StoredEntry } from '../log/log.types';
import { LogIdentity } from '../identity/log-identity';
import { RepeatLimitedLog } from '../logging/repeat-limited-log';
import { LogSigner } from '../signer/log-signer';
import { publishPublicKey } from '../identity/published-identity';
import type { SqlTx, VellumDatabase } from '../storage/database';
import { DbTileSource } from '../storage/db-tile-source';
import {
  type NewEntry,
  type QueryFn,
  findStoredEntries,
  findStoredLeaves,
  insertCheckpoint,
  insertEntries,
  latestCheckpoint,
  maxEntryIndex,
  upsertTiles,
} from '../storage/log-queries';
import type { BatchSink, CommittedBatch } from '../write-path/batch-sink';
import type { QueueTicket } from '../write-path/entry-queue';
import type { SequencerLease } from './lease';
import type { SequencerOptions } from './sequencer.options';

/**
 * Raised at boot when the stored log cannot be trusted; the process must not serve it. An
 * INCONSISTENT_LOG VellumError, told apart from one raised by a single batch (which only
 * rolls that batch back) by its class.
 */
export class LogStateError extends VellumError {
  constructor(message: string) {
    super('INCONSISTENT_LOG', message);
  }
}

function txQuery(tx: SqlTx): QueryFn {
  return (sql, params) => tx.query(sql, params);
}

function duplicate(identity: LogIdentity, leafHash: Buffer, index: number): VellumError {
  const entryId = identity.entryId(leafHash);
  return new VellumError(
    'DUPLICATE_ENTRY',
    `an equivalent entry already exists in the transparency log with UUID ${entryId}`,
    { entryId, index },
  );
}

function unavailable(e: unknown): VellumError {
  if (isVellumError(e, 'UNAVAILABLE')) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new VellumError('UNAVAILABLE', `the batch holding this entry was not committed: ${why}`);
}

/** What one committed batch produced, for publishing. */
interface Committed {
  readonly appended: ReadonlyArray<{ ticket: QueueTicket; entry: NewEntry }>;
  readonly stored: ReadonlyMap<string, number>;
  /** Full stored rows of the already-logged leaves of re-delivered tickets, by leaf hex. */
  readonly storedEntries: ReadonlyMap<string, StoredEntry>;
  readonly checkpoint: SignedCheckpoint;
  readonly tiles: Parameters<DbTileSource['put']>[0];
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
    const read = this.readQuery;
    const latest = await latestCheckpoint(read);
    if (latest === undefined) throw new LogStateError('the database has no checkpoint');
    const where = `checkpoint at size ${latest.size}`;
    let signed;
    try {
      signed = verifyRekorCheckpoint(latest.note, this.identity.publicKey);
    } catch (e) {
      throw new LogStateError(
        `refusing to start: the latest ${where} does not verify under the configured log key ` +
          `(logID ${this.identity.logIdHex}): ${(e as Error).message}. Is SIGNING_KEY_PATH the key this log was created with?`,
      );
    }
    if (signed.size !== latest.size || !signed.rootHash.equals(latest.rootHash)) {
      throw new LogStateError(`refusing to start: the stored ${where} disagrees with its own signed note`);
    }
    let appender: MerkleAppender;
    try {
      appender =
        latest.size === 0 ? MerkleAppender.empty() : await MerkleAppender.resume(latest.size, this.tiles);
    } catch (e) {
      throw new LogStateError(
        `refusing to start: cannot rebuild the tree at the latest ${where}: ${(e as Error).message}`,
      );
    }
    if (!appender.root().equals(latest.rootHash)) {
      throw new LogStateError(
        `refusing to start: the stored tiles give root ${appender.root().toString('hex')} at size ${latest.size} ` +
          `but the latest checkpoint says ${latest.rootHash.toString('hex')}; the database is inconsistent (restore it from a backup)`,
      );
    }
    const maxIdx = await maxEntryIndex(read);
    if (maxIdx !== latest.size - 1) {
      throw new LogStateError(
        `refusing to start: the latest ${where} but the largest stored entry index is ${maxIdx}; the database is inconsistent`,
      );
    }
    this.appender = appender;
    this.head = latest;
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

    // Plan (no I/O): the first ticket of each leaf hash is a candidate; later ones in this batch
    // are duplicates of it and are answered after the commit, with its index.
    const firstOf = new Map<string, QueueTicket>();
    const laterDuplicates: Array<{ ticket: QueueTicket; hex: string }> = [];
    for (const t of tickets) {
      const hex = t.entry.leafHash.toString('hex');
      if (firstOf.has(hex)) laterDuplicates.push({ ticket: t, hex });
      else firstOf.set(hex, t);
    }
    const candidates = [...firstOf.values()];

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

        // Sequence: one lookup for the whole batch against stored leaves.
        const stored = await findStoredLeaves(
          q,
          candidates.map((t) => t.entry.leafHash),
        );
        const fresh = candidates.filter((t) => !stored.has(t.entry.leafHash.toString('hex')));
        // A re-delivered ticket whose leaf is stored was stored by its own earlier delivery:
        // it will be answered with that entry, so read the rows (rare: only after a crash).
        const redeliveredIdx: number[] = [];
        for (const t of candidates) {
          const idx = stored.get(t.entry.leafHash.toString('hex'));
          if (idx !== undefined && t.redelivered === true) redeliveredIdx.push(idx);
        }
        const storedEntries = new Map<string, StoredEntry>();
        if (redeliveredIdx.length > 0) {
          for (const e of await findStoredEntries(q, redeliveredIdx))
            storedEntries.set(e.leafHash.toString('hex'), e);
        }
        if (fresh.length === 0) return { appended: [], stored, storedEntries, checkpoint: dbHead, tiles: [] };

        const firstIndex = this.appender.size;
        const integratedTime = Math.floor(this.now() / 1000);
        const logID = this.identity.logIdHex;
        const appended = fresh.map((ticket, i) => {
          const e = ticket.entry;
          const index = firstIndex + i;
          const set = this.signer.signSet({
            body: e.body.toString('base64'),
            integratedTime,
            logID,
            logIndex: index,
          });
          const entry: NewEntry = {
            index,
            leafHash: e.leafHash,
            body: e.body,
            kind: e.kind,
            apiVersion: e.apiVersion,
            integratedTime,
            set,
            indexKeys: e.indexKeys,
          };
          return { ticket, entry };
        });

        // Integrate: this advances the in-memory tree before COMMIT; every failure path below
        // ends in reload(), which puts it back to the committed state.
        const result = this.appender.append(fresh.map((t) => t.entry.leafHash));
        const checkpoint: SignedCheckpoint = {
          size: result.size,
          rootHash: result.root,
          note: this.signer.signCheckpoint(result.size, result.root),
        };

        await insertEntries(
          q,
          appended.map((a) => a.entry),
        );
        await upsertTiles(q, result.tiles);
        await insertCheckpoint(q, checkpoint, this.now());
        await this.options.beforeCommit?.({ firstIndex, count: fresh.length });
        // Durable step: COMMIT (in db.transaction). Before it returns, a crash leaves nothing of
        // this batch (SQLite ignores uncommitted WAL frames, PostgreSQL aborts the transaction);
        // no submitter has an answer and they retry. After it, entries, tiles and the checkpoint
        // covering them are all durable together; a crash before the answers below go out
        // loses only the answers, and a retry gets 409 pointing at the stored entry.
        return { appended, stored, storedEntries, checkpoint, tiles: result.tiles };
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
    if (this.sink === undefined) {
      this.publish(committed, laterDuplicates, firstOf);
      if (committed.appended.length > 0) await this.answer(committed);
      return;
    }
    await this.sink.committed(this.describe(committed, laterDuplicates, firstOf));
  }

  private async fail(tickets: readonly QueueTicket[], err: VellumError): Promise<void> {
    this.options.onFailed?.(tickets.length, err);
    if (this.sink === undefined) {
      for (const t of tickets) t.reject(err);
      return;
    }
    await this.sink.failed(tickets, err);
  }

  /** The committed batch in the shape a BatchSink takes. */
  private describe(
    c: Committed,
    laterDuplicates: ReadonlyArray<{ ticket: QueueTicket; hex: string }>,
    firstOf: ReadonlyMap<string, QueueTicket>,
  ): CommittedBatch {
    const indexOfNew = new Map<QueueTicket, number>();
    const appended = c.appended.map(({ ticket, entry }) => {
      indexOfNew.set(ticket, entry.index);
      const stored: StoredEntry = {
        index: entry.index,
        leafHash: entry.leafHash,
        body: entry.body,
        kind: entry.kind,
        apiVersion: entry.apiVersion,
        integratedTime: entry.integratedTime,
        set: entry.set,
      };
      return { ticket, entry: stored };
    });
    const stored: Array<{ ticket: QueueTicket; index: number; entry?: StoredEntry }> = [];
    for (const [hex, t] of firstOf) {
      const index = c.stored.get(hex);
      if (index === undefined) continue;
      const entry = t.redelivered === true ? c.storedEntries.get(hex) : undefined;
      stored.push(entry === undefined ? { ticket: t, index } : { ticket: t, index, entry });
    }
    const repeats = laterDuplicates.map((d) => ({
      ticket: d.ticket,
      index: c.stored.get(d.hex) ?? indexOfNew.get(firstOf.get(d.hex)!)!,
    }));
    return { checkpoint: c.checkpoint, appended, stored, repeats };
  }

  /** Post-commit bookkeeping and the answers that need no proof. */
  private publish(
    c: Committed,
    laterDuplicates: ReadonlyArray<{ ticket: QueueTicket; hex: string }>,
    firstOf: ReadonlyMap<string, QueueTicket>,
  ): void {
    const indexOfNew = new Map<QueueTicket, number>();
    for (const a of c.appended) indexOfNew.set(a.ticket, a.entry.index);
    for (const t of firstOf.values()) {
      const storedIndex = c.stored.get(t.entry.leafHash.toString('hex'));
      if (storedIndex !== undefined) t.reject(duplicate(this.identity, t.entry.leafHash, storedIndex));
    }
    for (const d of laterDuplicates) {
      const first = firstOf.get(d.hex)!;
      const index = c.stored.get(d.hex) ?? indexOfNew.get(first)!;
      d.ticket.reject(duplicate(this.identity, d.ticket.entry.leafHash, index));
    }
  }

  /**
   * Inclusion proofs from the tile cache (every tile on a new entry's path was just written, so
   * no database reads), each checked against the checkpoint it is returned with.
   */
  private async answer(c: Committed): Promise<void> {
    const { size, rootHash } = c.checkpoint;
    await Promise.all(
      c.appended.map(async ({ ticket, entry }) => {
        try {
          const proof = await inclusionProof(this.tiles, entry.index, size);
          verifyInclusion(entry.leafHash, entry.index, size, proof, rootHash);
          const stored = {
            index: entry.index,
            leafHash: entry.leafHash,
            body: entry.body,
            kind: entry.kind,
            apiVersion: entry.apiVersion,
            integratedTime: entry.integratedTime,
            set: entry.set,
          };
          ticket.resolve({ entry: stored, checkpoint: c.checkpoint, inclusionProof: proof });
        } catch (e) {
          // The entry is committed; only its answer failed. The client can fetch it by hash.
          this.logger.error(`entry ${entry.index} committed but its proof failed: ${(e as Error).message}`);
          ticket.reject(
            new VellumError(
              'INTERNAL',
              `entry ${entry.index} was logged but its inclusion proof could not be built`,
            ),
          );
        }
      }),
    );
  }
}
