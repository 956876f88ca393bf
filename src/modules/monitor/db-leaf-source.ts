/**
 * The in-process evaluator's LeafSource: the log's own database, read through LogReader (committed
 * data only). The database is not trusted either: a row rewritten behind the sequencer's back
 * fails the follower's leaf or root check like a lying server would.
 */
import type { LeafSource, SourceCheckpoint, SourceLeaf } from '../../core/follower/log-follower';
import type { LogReader } from '../log/log-reader.service';
import type { SignedCheckpoint, StoredEntry } from '../log/log.types';

/** Rows read per chunk. */
const CHUNK = 1000;

export class DbLeafSource implements LeafSource<StoredEntry> {
  /** The checkpoint row of the last latestCheckpoint(). */
  latest: SignedCheckpoint | undefined;

  constructor(private readonly reader: LogReader) {}

  async latestCheckpoint(): Promise<SourceCheckpoint> {
    const cp = await this.reader.latestCheckpoint();
    this.latest = cp;
    return { note: cp.note, claimed: { size: cp.size, rootHash: cp.rootHash } };
  }

  consistencyProof(size1: number, size2: number): Promise<Uint8Array[]> {
    return this.reader.consistencyProof(size1, size2);
  }

  async *leaves(from: number, to: number): AsyncGenerator<Array<SourceLeaf<StoredEntry>>> {
    for (let start = from; start < to; start += CHUNK) {
      const rows = await this.reader.entries(start, Math.min(to, start + CHUNK));
      yield rows.map((e) => ({ index: e.index, body: e.body, leafHash: e.leafHash, extra: e }));
      // A gap ends the stream; the follower reports the missing entries.
      if (rows.length < Math.min(to, start + CHUNK) - start) return;
    }
  }
}
