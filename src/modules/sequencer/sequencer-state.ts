import { verifyRekorCheckpoint } from '../../core/checkpoint';
import { VellumError } from '../../core/errors';
import { MerkleAppender } from '../../core/merkle/appender';
import type { SignedCheckpoint } from '../log/log.types';
import type { LogIdentity } from '../identity/log-identity';
import type { DbTileSource } from '../storage/db-tile-source';
import { type QueryFn, latestCheckpoint, maxEntryIndex } from '../storage/log-queries';

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

/** The committed tree as the sequencer holds it in memory between batches. */
export interface CommittedTree {
  readonly appender: MerkleAppender;
  readonly head: SignedCheckpoint;
}

/**
 * The committed state, checked: latest checkpoint, its signature under our key, the right-edge
 * tiles it implies, and the entry count. Never rebuilds from leaves. Throws LogStateError.
 */
export async function loadCommittedTree(
  read: QueryFn,
  tiles: DbTileSource,
  identity: LogIdentity,
): Promise<CommittedTree> {
  const latest = await latestCheckpoint(read);
  if (latest === undefined) throw new LogStateError('the database has no checkpoint');
  const where = `checkpoint at size ${latest.size}`;
  let signed;
  try {
    signed = verifyRekorCheckpoint(latest.note, identity.publicKey);
  } catch (e) {
    throw new LogStateError(
      `refusing to start: the latest ${where} does not verify under the configured log key ` +
        `(logID ${identity.logIdHex}): ${(e as Error).message}. Is SIGNING_KEY_PATH the key this log was created with?`,
    );
  }
  if (signed.size !== latest.size || !signed.rootHash.equals(latest.rootHash)) {
    throw new LogStateError(`refusing to start: the stored ${where} disagrees with its own signed note`);
  }
  let appender: MerkleAppender;
  try {
    appender = latest.size === 0 ? MerkleAppender.empty() : await MerkleAppender.resume(latest.size, tiles);
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
  return { appender, head: latest };
}
