import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { LogSigningKey } from '../../core/keys';
import { signSet, type SetFields } from '../../core/set';
import type { LogIdentity } from '../identity/log-identity';
import {
  type SignBatchRequest,
  type SignedBatch,
  type SigningKeys,
  keysToData,
  signCheckpointWith,
} from './batch-signing';
import { SigningThread } from './signing-thread';

/**
 * The only holder of the log's private key. Present in sequencer processes only. Batches are
 * signed on a signing thread (SigningThread): a batch's SETs and its checkpoint cost about
 * 50 µs per entry plus a millisecond, which would otherwise stall every request in flight.
 */
@Injectable()
export class LogSigner implements OnModuleDestroy {
  private readonly keys: SigningKeys;
  private readonly thread: SigningThread;

  constructor(
    key: LogSigningKey,
    identity: LogIdentity,
    /** Ed25519 key for the C2SP checkpoint line; undefined when the log key is Ed25519. */
    noteKey?: LogSigningKey,
  ) {
    this.keys = {
      key,
      ...(noteKey !== undefined ? { noteKey } : {}),
      origin: identity.origin,
      hostname: identity.hostname,
      logIdHex: identity.logIdHex,
    };
    this.thread = new SigningThread(keysToData(this.keys));
  }

  /** Signed entry timestamp over {body, integratedTime, logID, logIndex}: randomised ECDSA (DER) or Ed25519. */
  signSet(fields: SetFields): Buffer {
    return signSet(this.keys.key, fields);
  }

  /** The checkpoint note for this tree: Rekor-style line, then the C2SP line (deterministic signatures). */
  signCheckpoint(size: number, root: Buffer): string {
    return signCheckpointWith(this.keys, size, root);
  }

  /** A batch's SETs and checkpoint, signed off the event loop. */
  signBatch(req: SignBatchRequest): Promise<SignedBatch> {
    return this.thread.sign(req);
  }

  async onModuleDestroy(): Promise<void> {
    await this.thread.close();
  }
}
