/**
 * Messages between the verification pool and its workers. Requests and results travel in
 * batches (one postMessage per event-loop turn, not per entry) and byte payloads are transferred,
 * not copied, so the main thread's cost per entry stays a few microseconds.
 */
export interface VerifyRequest {
  readonly id: number;
  /** The raw JSON of one proposed entry. */
  readonly json: Uint8Array;
  /** Prepared for a search by entry (POST /entries/retrieve): Rekor skips its insertability checks. */
  readonly forSearch?: boolean;
  /** A Rekor v2 `CreateEntryRequest` instead of a v1 ProposedEntry. */
  readonly v2?: boolean;
}

export type VerifyResult =
  | {
      readonly id: number;
      readonly ok: true;
      readonly kind: string;
      readonly apiVersion: string;
      readonly body: Uint8Array;
      readonly leafHash: Uint8Array;
      readonly indexKeys: readonly string[];
    }
  | {
      readonly id: number;
      readonly ok: false;
      readonly code: string;
      readonly message: string;
      readonly details?: Record<string, unknown>;
    };

/**
 * A Uint8Array that owns its whole ArrayBuffer, so the buffer can go in a transfer list.
 * Small Node Buffers are slices of a shared 8 KiB pool: transferring one would detach the pool
 * under every other Buffer allocated from it, so those are copied first.
 */
export function ownedBytes(b: Uint8Array): Uint8Array {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b;
  return new Uint8Array(b);
}
