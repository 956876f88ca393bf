/**
 * The shapes that cross between the write path (sequencer, storage) and the read/HTTP side.
 * Bytes are Buffers; hex/base64 encodings happen only at the HTTP edge.
 */

export type { PreparedEntry } from '../../core/entries/types';

/** An entry as stored once its batch committed. */
export interface StoredEntry {
  readonly index: number;
  readonly leafHash: Buffer;
  readonly body: Buffer;
  readonly kind: string;
  readonly apiVersion: string;
  /** Unix seconds, assigned by the sequencer when the batch was sequenced. */
  readonly integratedTime: number;
  /** Signed entry timestamp: the log's signature (DER for ECDSA) over the JCS SET payload. */
  readonly set: Buffer;
}

/** A checkpoint the log signed, with the full note text as served. */
export interface SignedCheckpoint {
  readonly size: number;
  readonly rootHash: Buffer;
  /** The complete signed note: body, blank line, signature line(s), final newline. */
  readonly note: string;
}

/** What a submitter gets once the batch holding its entry has committed. */
export interface AcceptedEntry {
  readonly entry: StoredEntry;
  readonly checkpoint: SignedCheckpoint;
  /** Inclusion proof of entry.index in the tree of checkpoint.size, leaf to root. */
  readonly inclusionProof: readonly Buffer[];
}
