/**
 * Messages between the verification pool and its workers. Requests and results travel in
 * batches (one postMessage per event-loop turn, not per entry), so the main thread's cost per entry
 * stays a few microseconds. Request bytes are copied (the pool keeps them to send a batch again
 * when its worker is stopped); result bytes are transferred.
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

/**
 * Which request a worker is preparing and since when, in memory the pool shares with it, so the
 * pool can see a stuck entry without waiting for the batch's answer (which comes all at once).
 * The worker writes the start time before the id, so a reader that sees an id sees that id's start
 * or a later one: a torn read can only under-estimate how long an entry has run.
 */
export class WorkerProgress {
  private readonly ids: Int32Array;
  private readonly since: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(16)) {
    this.ids = new Int32Array(buffer, 0, 1);
    this.since = new Float64Array(buffer, 8, 1);
  }

  begin(id: number): void {
    this.since[0] = Date.now();
    Atomics.store(this.ids, 0, id);
  }

  end(): void {
    Atomics.store(this.ids, 0, 0);
  }

  /** The request id being prepared and when it started (epoch ms), or undefined when idle. */
  current(): { readonly id: number; readonly since: number } | undefined {
    const id = Atomics.load(this.ids, 0);
    if (id === 0) return undefined;
    const since = this.since[0]!;
    return Atomics.load(this.ids, 0) === id ? { id, since } : undefined;
  }
}
