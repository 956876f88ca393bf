import type { MerkleAppender } from '../../core/merkle/appender';
import type { SignedCheckpoint } from '../log/log.types';
import type { LogIdentity } from '../identity/log-identity';
import type { LogSigner } from '../signer/log-signer';
import {
  type NewEntry,
  type QueryFn,
  insertCheckpoint,
  insertEntries,
  upsertTiles,
} from '../storage/log-queries';
import type { QueueTicket } from '../write-path/entry-queue';
import type { Committed } from './sequencer-batch';

export interface Integrated {
  readonly appended: Committed['appended'];
  readonly checkpoint: SignedCheckpoint;
  readonly tiles: Committed['tiles'];
}

/**
 * Integrate, inside the batch transaction: indices from the committed size on, one SET per entry,
 * the tree advanced, the checkpoint signed, and entries, tiles and checkpoint written. Nothing
 * is durable until the caller's transaction commits.
 */
export async function integrateFresh(
  q: QueryFn,
  fresh: readonly QueueTicket[],
  appender: MerkleAppender,
  signer: LogSigner,
  identity: LogIdentity,
  now: () => number,
): Promise<Integrated> {
  const firstIndex = appender.size;
  const integratedTime = Math.floor(now() / 1000);
  const logID = identity.logIdHex;
  const appended = fresh.map((ticket, i) => {
    const e = ticket.entry;
    const index = firstIndex + i;
    const set = signer.signSet({
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

  // This advances the in-memory tree before COMMIT; every failure path of the caller ends in
  // reload(), which puts it back to the committed state.
  const result = appender.append(fresh.map((t) => t.entry.leafHash));
  const checkpoint: SignedCheckpoint = {
    size: result.size,
    rootHash: result.root,
    note: signer.signCheckpoint(result.size, result.root),
  };

  await insertEntries(
    q,
    appended.map((a) => a.entry),
  );
  await upsertTiles(q, result.tiles);
  await insertCheckpoint(q, checkpoint, now());
  return { appended, checkpoint, tiles: result.tiles };
}
