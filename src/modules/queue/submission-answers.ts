import type IORedis from 'ioredis';
import { verifyRekorCheckpoint } from '../../core/checkpoint';
import { VellumError } from '../../core/errors';
import { verifyInclusion } from '../../core/merkle/verify';
import type { LogIdentity } from '../identity/log-identity';
import type { LogReader } from '../log/log-reader.service';
import type { AcceptedEntry, PreparedEntry, SignedCheckpoint, StoredEntry } from '../log/log.types';
import { type QueueNames, createdKeys } from './wire';

/** One API request waiting for its entry's batch. */
export interface Waiter {
  readonly entry: PreparedEntry;
  /** This submission's token; written into the job when this waiter is the one adding it. */
  readonly token: string;
  readonly since: number;
  lastAdd: number;
  readonly resolve: (a: AcceptedEntry) => void;
  readonly reject: (e: VellumError) => void;
}

export function duplicateOf(identity: LogIdentity, entry: PreparedEntry, index: number): VellumError {
  const entryId = identity.entryId(entry.leafHash);
  return new VellumError(
    'DUPLICATE_ENTRY',
    `an equivalent entry already exists in the transparency log with UUID ${entryId}`,
    { entryId, index },
  );
}

/**
 * Answers the waiters of one leaf: the submission whose job created the entry (token `creator`)
 * with the entry, every other as a duplicate of it. Waiters of this process that joined another
 * replica's job all get 409, so across replicas exactly one submission gets 201. `creator`
 * undefined: not known (both the record and the marker were lost), the first waiter gets the
 * entry. The proof is checked against the checkpoint before anyone is answered.
 */
export function answerWaiters(
  identity: LogIdentity,
  list: readonly Waiter[],
  entry: StoredEntry,
  cp: SignedCheckpoint,
  proof: Buffer[],
  creator: string | undefined,
): void {
  verifyInclusion(entry.leafHash, entry.index, cp.size, proof, cp.rootHash);
  const winner = creator === undefined ? list[0] : list.find((w) => w.token === creator);
  for (const w of list) {
    if (w === winner) w.resolve({ entry, checkpoint: cp, inclusionProof: proof });
    else w.reject(duplicateOf(identity, w.entry, entry.index));
  }
}

/**
 * Checkpoints of batch records, verified under the log key before any proof is served against
 * them: Redis is trusted for availability, not for the tree. Remembers a few recent ones.
 */
export class RecordCheckpoints {
  private readonly verified = new Map<number, string>();

  constructor(
    private readonly identity: LogIdentity,
    private readonly logReader: LogReader,
  ) {}

  /** The record's checkpoint, once its signed note verified under the log key and matches. */
  check(cp: SignedCheckpoint): SignedCheckpoint {
    if (this.verified.get(cp.size) !== cp.note) {
      const signed = verifyRekorCheckpoint(cp.note, this.identity.publicKey, this.identity.hostname);
      if (signed.size !== cp.size || !signed.rootHash.equals(cp.rootHash)) {
        throw new VellumError(
          'INCONSISTENT_LOG',
          `batch record for size ${cp.size} disagrees with its signed note`,
        );
      }
      this.verified.set(cp.size, cp.note);
      if (this.verified.size > 64) this.verified.delete(this.verified.keys().next().value as number);
      this.logReader.noteCommittedSize(cp.size);
    }
    return cp;
  }
}

/**
 * The submission tokens the sequencer recorded for these leaves (RedisBatchSink), searched in the
 * per-minute `created` hashes around the time any of them could have been committed (`since`:
 * when the oldest was submitted). A leaf is missing when Redis lost its marker; throws when Redis
 * is unreachable.
 */
export async function readCreators(
  client: IORedis,
  names: QueueNames,
  hexes: readonly string[],
  since: number,
  now: number,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of createdKeys(names, since, now)) {
    const want = hexes.filter((h) => !out.has(h));
    if (want.length === 0) break;
    const tokens = await client.hmget(key, ...want);
    want.forEach((h, i) => {
      const t = tokens[i];
      if (typeof t === 'string') out.set(h, t);
    });
  }
  return out;
}
