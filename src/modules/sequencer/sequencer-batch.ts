import type { SignedCheckpoint, StoredEntry } from '../log/log.types';
import { type NewEntry, type QueryFn, findStoredEntries, findStoredLeaves } from '../storage/log-queries';
import type { QueueTicket } from '../write-path/entry-queue';
import type { StoredTile } from '../../core/merkle/tile-store';

/** A batch split by leaf hash: the first ticket of each leaf, and the later ones repeating it. */
export interface BatchPlan {
  readonly firstOf: ReadonlyMap<string, QueueTicket>;
  readonly laterDuplicates: ReadonlyArray<{ readonly ticket: QueueTicket; readonly hex: string }>;
  /** The first tickets, in batch order: what the sequence stage looks up. */
  readonly candidates: readonly QueueTicket[];
}

/**
 * Plan (no I/O): the first ticket of each leaf hash is a candidate; later ones in this batch are
 * duplicates of it and are answered after the commit, with its index.
 */
export function planBatch(tickets: readonly QueueTicket[]): BatchPlan {
  const firstOf = new Map<string, QueueTicket>();
  const laterDuplicates: Array<{ ticket: QueueTicket; hex: string }> = [];
  for (const t of tickets) {
    const hex = t.entry.leafHash.toString('hex');
    if (firstOf.has(hex)) laterDuplicates.push({ ticket: t, hex });
    else firstOf.set(hex, t);
  }
  return { firstOf, laterDuplicates, candidates: [...firstOf.values()] };
}

/**
 * Leaves of batches that are prepared but whose COMMIT a later lookup may not have seen: the
 * batches ahead in the pipeline, and those committed after that lookup began. A lookup reads
 * committed rows first and then consults this, so a leaf is never missed in the window where it
 * is neither visible in the database nor remembered here. Cleared when the tree is reloaded
 * (every prepared batch is then prepared again).
 */
export class PendingLeaves {
  private batches: Array<{ leaves: Map<string, NewEntry>; committedAt?: number }> = [];
  /** Counts commits; a lookup notes it before reading the database. */
  private commits = 0;

  get commitCount(): number {
    return this.commits;
  }

  add(entries: readonly NewEntry[]): object {
    const leaves = new Map<string, NewEntry>();
    for (const e of entries) leaves.set(e.leafHash.toString('hex'), e);
    const handle = { leaves };
    this.batches.push(handle);
    return handle;
  }

  committed(handle: object): void {
    const b = this.batches.find((x) => x === handle);
    if (b !== undefined) b.committedAt = ++this.commits;
  }

  /** A leaf a lookup that began at `since` (commitCount then) may not have seen stored. */
  find(hex: string, since: number): NewEntry | undefined {
    for (const b of this.batches) {
      if (b.committedAt !== undefined && b.committedAt <= since) continue;
      const e = b.leaves.get(hex);
      if (e !== undefined) return e;
    }
    return undefined;
  }

  /** After a lookup that began at `since`: later lookups see what it saw committed. */
  forget(since: number): void {
    this.batches = this.batches.filter((b) => b.committedAt === undefined || b.committedAt > since);
  }

  clear(): void {
    this.batches = [];
  }
}

/** What the sequence stage found for a batch's candidates. */
export interface Sequenced {
  /** Leaf hex -> index of the candidates already in the log (or in a batch ahead of this one). */
  readonly stored: ReadonlyMap<string, number>;
  /** Full rows of the already-logged leaves of re-delivered tickets, by leaf hex. */
  readonly storedEntries: ReadonlyMap<string, StoredEntry>;
  /** The candidates to append, in batch order. */
  readonly fresh: readonly QueueTicket[];
}

/**
 * Sequence: one lookup of the batch's candidates against committed leaves (read connection,
 * outside any transaction), then against the batches ahead of it in the pipeline. Safe outside
 * the transaction because only the lease holder appends and the batch's transaction checks that
 * the tree it was prepared on is still the committed one.
 */
export async function sequenceCandidates(
  read: QueryFn,
  candidates: readonly QueueTicket[],
  pending: PendingLeaves,
): Promise<Sequenced> {
  const since = pending.commitCount;
  const found = await findStoredLeaves(
    read,
    candidates.map((t) => t.entry.leafHash),
  );
  const stored = new Map(found);
  const ahead = new Map<string, NewEntry>();
  const fresh: QueueTicket[] = [];
  for (const t of candidates) {
    const hex = t.entry.leafHash.toString('hex');
    if (stored.has(hex)) continue;
    const p = pending.find(hex, since);
    if (p === undefined) fresh.push(t);
    else {
      stored.set(hex, p.index);
      ahead.set(hex, p);
    }
  }
  pending.forget(since);
  // A re-delivered ticket whose leaf is stored was stored by its own earlier delivery:
  // it will be answered with that entry, so read the rows (rare: only after a crash).
  const redeliveredIdx: number[] = [];
  const storedEntries = new Map<string, StoredEntry>();
  for (const t of candidates) {
    if (t.redelivered !== true) continue;
    const hex = t.entry.leafHash.toString('hex');
    const inPipeline = ahead.get(hex);
    if (inPipeline !== undefined) storedEntries.set(hex, storedEntry(inPipeline));
    else if (found.has(hex)) redeliveredIdx.push(found.get(hex)!);
  }
  if (redeliveredIdx.length > 0) {
    for (const e of await findStoredEntries(read, redeliveredIdx))
      storedEntries.set(e.leafHash.toString('hex'), e);
  }
  return { stored, storedEntries, fresh };
}

/** A batch ready to commit: everything computed and signed, nothing durable yet. */
export interface PreparedBatch {
  readonly tickets: readonly QueueTicket[];
  readonly plan: BatchPlan;
  /** The tree generation it was prepared on; a reload makes it stale (prepared again). */
  readonly generation: number;
  /** Size of the tree it extends: the committed size when its turn to commit comes. */
  readonly basisSize: number;
  readonly sequenced: Sequenced;
  readonly appended: ReadonlyArray<{ ticket: QueueTicket; entry: NewEntry }>;
  /** The checkpoint it makes durable; undefined when it appends nothing. */
  readonly checkpoint: SignedCheckpoint | undefined;
  readonly tiles: readonly StoredTile[];
  /** Its PendingLeaves handle. */
  readonly pendingHandle: object | undefined;
}

/** What one committed batch produced, for publishing. */
export interface Committed {
  readonly appended: ReadonlyArray<{ ticket: QueueTicket; entry: NewEntry }>;
  readonly stored: ReadonlyMap<string, number>;
  /** Full stored rows of the already-logged leaves of re-delivered tickets, by leaf hex. */
  readonly storedEntries: ReadonlyMap<string, StoredEntry>;
  readonly checkpoint: SignedCheckpoint;
  readonly tiles: readonly StoredTile[];
}

/** The stored-row view of an entry a batch appended (what answers and records carry). */
export function storedEntry(entry: NewEntry): StoredEntry {
  return {
    index: entry.index,
    leafHash: entry.leafHash,
    body: entry.body,
    kind: entry.kind,
    apiVersion: entry.apiVersion,
    integratedTime: entry.integratedTime,
    set: entry.set,
  };
}
