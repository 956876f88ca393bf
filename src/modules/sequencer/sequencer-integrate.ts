import type { MerkleAppender } from '../../core/merkle/appender';
import type { StoredTile } from '../../core/merkle/tile-store';
import type { SignedCheckpoint } from '../log/log.types';
import type { LogSigner } from '../signer/log-signer';
import {
  type NewEntry,
  type QueryFn,
  insertCheckpoint,
  insertEntries,
  upsertTiles,
} from '../storage/log-queries';
import type { QueueTicket } from '../write-path/entry-queue';

export interface Integrated {
  readonly appended: ReadonlyArray<{ ticket: QueueTicket; entry: NewEntry }>;
  readonly checkpoint: SignedCheckpoint;
  readonly tiles: readonly StoredTile[];
}

/**
 * Integrate, before the batch transaction: indices from the tree's current size on (which may
 * include batches ahead in the pipeline), the tree advanced in memory, then every SET and the
 * checkpoint signed on the signing thread. Nothing is durable: the caller's failure paths reload
 * the tree from the database.
 */
export async function integrateFresh(
  fresh: readonly QueueTicket[],
  appender: MerkleAppender,
  signer: LogSigner,
  now: () => number,
): Promise<Integrated> {
  const firstIndex = appender.size;
  const integratedTime = Math.floor(now() / 1000);
  // Synchronous, so no other batch can be integrated between reading the size and appending.
  const result = appender.append(fresh.map((t) => t.entry.leafHash));
  const signed = await signer.signBatch({
    bodies: fresh.map((t) => t.entry.body),
    firstIndex,
    integratedTime,
    size: result.size,
    root: result.root,
  });
  const appended = fresh.map((ticket, i) => {
    const e = ticket.entry;
    const entry: NewEntry = {
      index: firstIndex + i,
      leafHash: e.leafHash,
      body: e.body,
      kind: e.kind,
      apiVersion: e.apiVersion,
      integratedTime,
      set: signed.sets[i]!,
      indexKeys: e.indexKeys,
    };
    return { ticket, entry };
  });
  const checkpoint: SignedCheckpoint = { size: result.size, rootHash: result.root, note: signed.note };
  return { appended, checkpoint, tiles: result.tiles };
}

/** Inside the batch transaction: entries, tiles and the checkpoint covering them. */
export async function writeIntegrated(q: QueryFn, b: Integrated, nowMs: number): Promise<void> {
  await insertEntries(
    q,
    b.appended.map((a) => a.entry),
  );
  await upsertTiles(q, b.tiles);
  await insertCheckpoint(q, b.checkpoint, nowMs);
}
