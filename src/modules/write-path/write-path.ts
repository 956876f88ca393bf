import { VellumError } from '../../core/errors';
import { HASH_SIZE, leafHash } from '../../core/merkle/hash';
import type { AcceptedEntry, PreparedEntry } from '../log/log.types';

/**
 * Injection token of the process's WritePath. Which implementation stands behind it is chosen
 * once, by the role table (src/roles.ts): the embedded sequencer without REDIS_URL, BullMQ with it.
 */
export const WRITE_PATH = Symbol('WRITE_PATH');

/** Where the HTTP faces hand verified entries to be logged. */
export interface WritePath {
  /**
   * Resolves once the batch holding the entry has committed, with the entry, the checkpoint of
   * that batch and the entry's inclusion proof in it. Rejects DUPLICATE_ENTRY (details: entryId,
   * index of the first), PUSHBACK when too much is waiting, UNAVAILABLE when the batch failed or
   * a dependency (Redis, the database) is down. PUSHBACK and UNAVAILABLE carry
   * `details.retryAfterSeconds`.
   */
  submit(entry: PreparedEntry): Promise<AcceptedEntry>;
  /** Entries accepted by submit() and not yet answered. */
  pendingCount(): number;
}

/**
 * The checks every WritePath makes before taking an entry: it is accepting, and the leaf hash
 * is the one of the body (callers compute both; a mismatch would log a leaf nobody can verify).
 * Returns the rejection, or undefined when the entry may go on.
 */
export function refuseEntry(accepting: boolean, entry: PreparedEntry): VellumError | undefined {
  if (!accepting)
    return new VellumError('UNAVAILABLE', 'the log is not accepting entries', { retryAfterSeconds: 1 });
  if (entry.leafHash.length !== HASH_SIZE || !leafHash(entry.body).equals(entry.leafHash))
    return new VellumError('INVALID_ARGUMENT', 'leafHash is not the RFC 6962 leaf hash of body');
  return undefined;
}
