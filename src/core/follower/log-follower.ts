/**
 * One follow-and-verify loop for every client that reads a log (the in-process evaluator,
 * `vellum monitor`, `vellum verify`): RFC 6962 consistency between checkpoints, every leaf hashed
 * from its body, and every delivered leaf proven in a signed checkpoint.
 *
 * A position is a checkpoint the follower verified plus the compact range of the leaves [0, next)
 * already delivered, which are proven to be that checkpoint's first leaves. One step:
 *  1. the source's latest checkpoint is verified (signature, through the injected verifier);
 *  2. it must extend the position's checkpoint: same size ⇒ same root, larger ⇒ a consistency
 *     proof, smaller ⇒ the log shrank;
 *  3. leaves are read in order, each body hashed (and compared with the hash the source claims);
 *  4. at each batch boundary the rebuilt root of [0, to) is proven in the new checkpoint (equal
 *     roots at its size, else a consistency proof from `to`), so only proven entries are delivered;
 *  5. the consumer accepts the batch, and only then is the position saved.
 * A crash between 5's two halves re-delivers the batch next time; it can never skip one. Any
 * contradiction is INCONSISTENT_LOG and nothing is delivered or saved from it.
 *
 * I/O lives behind LeafSource / FollowerConsumer / PositionStore; this file does none itself.
 */
import type { Checkpoint } from '../checkpoint';
import { VellumError } from '../errors';
import { leafHash } from '../merkle/hash';
import { verifyConsistency } from '../merkle/verify';
import { CompactRange } from './compact-range';

/** A checkpoint whose signed note was verified, with that note. */
export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: string;
}

export interface FollowerPosition {
  /** The last verified checkpoint; undefined before the first one (the empty tree). */
  readonly verified: VerifiedCheckpoint | undefined;
  /** Leaves [0, range.size) delivered; range.size <= verified.size. */
  readonly range: CompactRange;
}

/** What a source says its latest checkpoint is, before verification. */
export interface SourceCheckpoint {
  readonly note: string;
  /** Size and root the source states beside the note (Rekor LogInfo); must match the note. */
  readonly claimed?: { readonly size: number; readonly rootHash: Buffer };
}

/** One leaf as a source serves it. `leafHash`, when given, is the hash the source names it by. */
export interface SourceLeaf<X = unknown> {
  readonly index: number;
  readonly body: Buffer;
  readonly leafHash?: Buffer;
  /** Source-specific data handed through to the consumer (e.g. a Rekor LogEntry). */
  readonly extra?: X;
}

export interface LeafSource<X = unknown> {
  latestCheckpoint(): Promise<SourceCheckpoint>;
  /** RFC 6962 PROOF(size1, D[0:size2]); size1 < size2, both sizes of signed checkpoints. */
  consistencyProof(size1: number, size2: number): Promise<Uint8Array[]>;
  /**
   * Leaves [from, to) of the tree of `treeSize`, in order, in chunks. The follower may stop
   * iterating early (return()), so a source must not leave work running when it does.
   */
  leaves(from: number, to: number, treeSize: number): AsyncIterable<ReadonlyArray<SourceLeaf<X>>>;
  /** The compact range of the whole tree of `cp`, checked against its root (start at the end). */
  compactRangeAt?(cp: Checkpoint): Promise<CompactRange>;
}

export interface VerifiedEntry<X = unknown> {
  readonly index: number;
  readonly body: Buffer;
  readonly leafHash: Buffer;
  readonly extra?: X;
}

/** Entries [from, to), all proven in `verified`; may be empty when only the checkpoint moved. */
export interface VerifiedBatch<X = unknown> {
  readonly verified: VerifiedCheckpoint;
  readonly from: number;
  readonly to: number;
  readonly entries: ReadonlyArray<VerifiedEntry<X>>;
}

export interface FollowerConsumer<X = unknown> {
  accept(batch: VerifiedBatch<X>): Promise<void> | void;
}

export interface PositionStore {
  /** Persists the position after `batch`; false if someone else moved it (the step stops). */
  save(position: FollowerPosition, batch: VerifiedBatch): Promise<boolean | void> | boolean | void;
}

export interface FollowerOptions<X = unknown> {
  readonly source: LeafSource<X>;
  readonly consumer: FollowerConsumer<X>;
  readonly store: PositionStore;
  /** Verifies a signed note under the log's key; throws if it does not verify. */
  readonly verifyNote: (note: string) => Checkpoint;
  /** Entries per batch (one proof, one accept, one save each). */
  readonly batchSize: number;
}

export interface StepOptions {
  /** Deliver at most this many entries in this step (the rest waits for the next). */
  readonly maxEntries?: number;
  /** Asked after each chunk read: true ends the current batch there (e.g. a time-based save). */
  readonly cutBatch?: (entriesInBatch: number) => boolean;
  /** Asked after each chunk and each save: true stops the step (its last batch is saved first). */
  readonly shouldStop?: () => boolean;
  /** Called once the new checkpoint's signature verified, before its consistency is checked. */
  readonly afterSignature?: (cp: Checkpoint, note: string) => void;
  /** Called once the new checkpoint is verified and consistent, before any leaf is read. */
  readonly onCheckpoint?: (verified: VerifiedCheckpoint, position: FollowerPosition) => void;
}

export interface StepResult {
  readonly status: 'caught-up' | 'more' | 'stopped' | 'superseded';
  readonly position: FollowerPosition;
  readonly verified: VerifiedCheckpoint;
  readonly delivered: number;
}

function inconsistent(message: string, details: Record<string, unknown>): never {
  throw new VellumError('INCONSISTENT_LOG', message, details);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export class LogFollower<X = unknown> {
  constructor(private readonly o: FollowerOptions<X>) {
    if (!Number.isSafeInteger(o.batchSize) || o.batchSize < 1)
      throw new VellumError('INVALID_ARGUMENT', 'follower batch size must be a positive integer');
  }

  /** Verifies `got` as the successor of `position.verified`; returns the verified checkpoint. */
  async verifyNext(
    position: FollowerPosition,
    got: SourceCheckpoint,
    afterSignature?: (cp: Checkpoint, note: string) => void,
  ): Promise<VerifiedCheckpoint> {
    const prev = position.verified;
    const previous = prev !== undefined && prev.note !== '' ? { previousCheckpoint: prev.note } : {};
    let cp: Checkpoint;
    // Verified every time, even a note seen before: the key or signer name asked for may differ.
    try {
      cp = this.o.verifyNote(got.note);
    } catch (e) {
      inconsistent(`the log's checkpoint does not verify under the given key: ${(e as Error).message}`, {
        checkpoint: got.note,
      });
    }
    if (
      got.claimed !== undefined &&
      (got.claimed.size !== cp.size || !got.claimed.rootHash.equals(cp.rootHash))
    )
      inconsistent('the size/root the log states differ from its signed checkpoint', {
        checkpoint: got.note,
      });
    afterSignature?.(cp, got.note);
    const details = { ...previous, checkpoint: got.note };
    if (prev !== undefined) {
      const old = prev.checkpoint;
      if (old.origin !== cp.origin)
        inconsistent(
          `checkpoint origin changed from ${JSON.stringify(old.origin)} to ${JSON.stringify(cp.origin)}`,
          details,
        );
      if (cp.size < old.size) inconsistent(`the log shrank from ${old.size} to ${cp.size} entries`, details);
      if (cp.size === old.size && !cp.rootHash.equals(old.rootHash))
        inconsistent(`two different signed roots for tree size ${cp.size} (split view)`, details);
      if (cp.size > old.size && old.size > 0) {
        const proof = await this.o.source.consistencyProof(old.size, cp.size);
        try {
          verifyConsistency(old.size, cp.size, proof, old.rootHash, cp.rootHash);
        } catch (e) {
          inconsistent(
            `checkpoint of size ${cp.size} is not consistent with the one of size ${old.size} seen before: ${(e as Error).message}`,
            details,
          );
        }
      }
    }
    if (position.range.size > cp.size)
      inconsistent(
        `checkpoint size ${cp.size} is below the ${position.range.size} entries already verified`,
        details,
      );
    return { checkpoint: cp, note: got.note };
  }

  /** Proves the leaves of `range` are the first leaves of `cp`'s tree. */
  async provePrefix(range: CompactRange, verified: VerifiedCheckpoint): Promise<void> {
    const cp = verified.checkpoint;
    const n = range.size;
    const root = range.root();
    if (n === cp.size) {
      if (!root.equals(cp.rootHash))
        inconsistent(
          `the root rebuilt from all ${n} entries (${hex(root)}) is not the signed root ${hex(cp.rootHash)}`,
          { checkpoint: verified.note },
        );
      return;
    }
    if (n === 0) return;
    const proof = await this.o.source.consistencyProof(n, cp.size);
    try {
      verifyConsistency(n, cp.size, proof, root, cp.rootHash);
    } catch (e) {
      inconsistent(
        `the root rebuilt from all ${n} entries read so far (${hex(root)}) is not a prefix of the signed tree of size ${cp.size}: ${(e as Error).message}`,
        { checkpoint: verified.note },
      );
    }
  }

  /** One step from `position` toward the source's latest checkpoint (see the file comment). */
  async step(position: FollowerPosition, opts: StepOptions = {}): Promise<StepResult> {
    const got = await this.o.source.latestCheckpoint();
    const verified = await this.verifyNext(position, got, opts.afterSignature);
    const cp = verified.checkpoint;
    const range = position.range.clone();
    // A position saved mid-scan (or by an older version of its writer) is re-proven, not trusted.
    if (position.verified !== undefined && range.size < position.verified.checkpoint.size)
      await this.provePrefix(range, verified);
    opts.onCheckpoint?.(verified, position);

    const limit = Math.min(cp.size, range.size + (opts.maxEntries ?? Number.MAX_SAFE_INTEGER));
    let current: FollowerPosition = { verified, range: range.clone() };
    let delivered = 0;
    const checkpointMoved = position.verified?.note !== verified.note;
    if (range.size === limit) {
      if (checkpointMoved) {
        const batch = { verified, from: range.size, to: range.size, entries: [] };
        await this.o.consumer.accept(batch);
        if ((await this.o.store.save(current, batch)) === false)
          return { status: 'superseded', position, verified, delivered };
      }
      return { status: limit === cp.size ? 'caught-up' : 'more', position: current, verified, delivered };
    }

    let batch: VerifiedEntry<X>[] = [];
    let batchFrom = range.size;
    const flush = async (): Promise<boolean> => {
      await this.provePrefix(range, verified);
      const b: VerifiedBatch<X> = { verified, from: batchFrom, to: range.size, entries: batch };
      await this.o.consumer.accept(b);
      const next: FollowerPosition = { verified, range: range.clone() };
      if ((await this.o.store.save(next, b)) === false) return false;
      current = next;
      delivered += batch.length;
      batch = [];
      batchFrom = range.size;
      return true;
    };

    const iterator = this.o.source.leaves(range.size, limit, cp.size)[Symbol.asyncIterator]();
    let stopped = false;
    try {
      while (range.size < limit && !stopped) {
        const r = await iterator.next();
        if (r.done === true) break;
        for (const leaf of r.value) {
          if (range.size >= limit) break;
          const entry = this.checkLeaf(leaf, range.size, verified);
          range.append(entry.leafHash);
          batch.push(entry);
          if (batch.length >= this.o.batchSize && !(await flush()))
            return { status: 'superseded', position: current, verified, delivered };
        }
        if (batch.length > 0 && opts.cutBatch?.(batch.length) === true && !(await flush()))
          return { status: 'superseded', position: current, verified, delivered };
        // Asked once per chunk, after any save it caused (a save may be what asks to stop).
        stopped = opts.shouldStop?.() === true;
        if (stopped && batch.length > 0 && !(await flush()))
          return { status: 'superseded', position: current, verified, delivered };
      }
    } finally {
      await iterator.return?.();
    }
    if (!stopped && range.size < limit)
      inconsistent(
        `the log did not serve entries ${range.size}..${limit - 1} below its signed size ${cp.size}`,
        {
          checkpoint: verified.note,
        },
      );
    if (batch.length > 0 && !(await flush()))
      return { status: 'superseded', position: current, verified, delivered };
    const status =
      stopped && range.size < cp.size ? 'stopped' : range.size === cp.size ? 'caught-up' : 'more';
    return { status, position: current, verified, delivered };
  }

  private checkLeaf(leaf: SourceLeaf<X>, expected: number, verified: VerifiedCheckpoint): VerifiedEntry<X> {
    if (leaf.index !== expected)
      inconsistent(`the log served entry ${leaf.index} where entry ${expected} belongs`, {
        checkpoint: verified.note,
      });
    const hash = leafHash(leaf.body);
    if (leaf.leafHash !== undefined && !hash.equals(leaf.leafHash))
      inconsistent(
        `leaf hash mismatch at index ${expected}: the body hashes to ${hash.toString('hex')}, the log calls it ${hex(leaf.leafHash)}`,
        { checkpoint: verified.note, logIndex: expected },
      );
    // One object shape with or without `extra` (no spread): this runs once per leaf of a scan.
    const entry: { index: number; body: Buffer; leafHash: Buffer; extra?: X } = {
      index: expected,
      body: leaf.body,
      leafHash: hash,
    };
    if (leaf.extra !== undefined) entry.extra = leaf.extra;
    return entry;
  }
}
