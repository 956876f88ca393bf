import type { StoredEntry } from '../log/log.types';
import { type NewEntry, type QueryFn, findStoredEntries, findStoredLeaves } from '../storage/log-queries';
import type { QueueTicket } from '../write-path/entry-queue';
import type { SignedCheckpoint } from '../log/log.types';
import type { DbTileSource } from '../storage/db-tile-source';

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

/** What the sequence stage found for a batch's candidates. */
export interface Sequenced {
  /** Leaf hex -> index of the candidates already in the log. */
  readonly stored: ReadonlyMap<string, number>;
  /** Full stored rows of the already-logged leaves of re-delivered tickets, by leaf hex. */
  readonly storedEntries: ReadonlyMap<string, StoredEntry>;
  /** The candidates to append, in batch order. */
  readonly fresh: readonly QueueTicket[];
}

/** Sequence, inside the batch transaction: one lookup for the whole batch against stored leaves. */
export async function sequenceCandidates(q: QueryFn, candidates: readonly QueueTicket[]): Promise<Sequenced> {
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
  return { stored, storedEntries, fresh };
}

/** What one committed batch produced, for publishing. */
export interface Committed {
  readonly appended: ReadonlyArray<{ ticket: QueueTicket; entry: NewEntry }>;
  readonly stored: ReadonlyMap<string, number>;
  /** Full stored rows of the already-logged leaves of re-delivered tickets, by leaf hex. */
  readonly storedEntries: ReadonlyMap<string, StoredEntry>;
  readonly checkpoint: SignedCheckpoint;
  readonly tiles: Parameters<DbTileSource['put']>[0];
}
