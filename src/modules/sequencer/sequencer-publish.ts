import type { Logger } from '@nestjs/common';
import { VellumError, isVellumError } from '../../core/errors';
import { inclusionProof, inclusionProofsFrom } from '../../core/merkle/proofs';
import type { DbTileSource } from '../storage/db-tile-source';
import { verifyInclusion } from '../../core/merkle/verify';
import type { StoredEntry } from '../log/log.types';
import type { LogIdentity } from '../identity/log-identity';
import type { CommittedBatch } from '../write-path/batch-sink';
import type { QueueTicket } from '../write-path/entry-queue';
import { type BatchPlan, type Committed, storedEntry } from './sequencer-batch';

export function duplicate(identity: LogIdentity, leafHash: Buffer, index: number): VellumError {
  const entryId = identity.entryId(leafHash);
  return new VellumError(
    'DUPLICATE_ENTRY',
    `an equivalent entry already exists in the transparency log with UUID ${entryId}`,
    { entryId, index },
  );
}

/** The committed batch in the shape a BatchSink takes. */
export function toCommittedBatch(c: Committed, plan: BatchPlan): CommittedBatch {
  const { laterDuplicates, firstOf } = plan;
  const indexOfNew = new Map<QueueTicket, number>();
  const appended = c.appended.map(({ ticket, entry }) => {
    indexOfNew.set(ticket, entry.index);
    return { ticket, entry: storedEntry(entry) };
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

/** In process, after the commit: the answers that need no proof (duplicates). */
export function rejectDuplicates(c: Committed, plan: BatchPlan, identity: LogIdentity): void {
  const { laterDuplicates, firstOf } = plan;
  const indexOfNew = new Map<QueueTicket, number>();
  for (const a of c.appended) indexOfNew.set(a.ticket, a.entry.index);
  for (const t of firstOf.values()) {
    const storedIndex = c.stored.get(t.entry.leafHash.toString('hex'));
    if (storedIndex !== undefined) t.reject(duplicate(identity, t.entry.leafHash, storedIndex));
  }
  for (const d of laterDuplicates) {
    const first = firstOf.get(d.hex)!;
    const index = c.stored.get(d.hex) ?? indexOfNew.get(first)!;
    d.ticket.reject(duplicate(identity, d.ticket.entry.leafHash, index));
  }
}

/**
 * In process, after the commit: inclusion proofs from the tile cache, which holds every tile on
 * a new entry's path (this batch just wrote the changed ones; the unchanged right-edge tiles were
 * read at boot or written by earlier batches), so proofs are folded without I/O; a tile evicted
 * meanwhile is read from the database. Each proof is checked against the checkpoint it is
 * returned with.
 */
export async function answerAppended(c: Committed, tiles: DbTileSource, logger: Logger): Promise<void> {
  const { size, rootHash } = c.checkpoint;
  const cached = { get: (level: number, index: number) => tiles.cached(level, index) };
  for (const { ticket, entry } of c.appended) {
    try {
      let proof: Buffer[];
      try {
        proof = inclusionProofsFrom(cached, [entry.index], size)[0]!;
      } catch (e) {
        if (!isVellumError(e, 'INVALID_TILE')) throw e;
        proof = await inclusionProof(tiles, entry.index, size);
      }
      verifyInclusion(entry.leafHash, entry.index, size, proof, rootHash);
      ticket.resolve({ entry: storedEntry(entry), checkpoint: c.checkpoint, inclusionProof: proof });
    } catch (e) {
      // The entry is committed; only its answer failed. The client can fetch it by hash.
      logger.error(`entry ${entry.index} committed but its proof failed: ${(e as Error).message}`);
      ticket.reject(
        new VellumError(
          'INTERNAL',
          `entry ${entry.index} was logged but its inclusion proof could not be built`,
        ),
      );
    }
  }
}
