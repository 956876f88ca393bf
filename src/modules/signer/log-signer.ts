import { Injectable } from '@nestjs/common';
import { signLogCheckpoint } from '../../core/checkpoint';
import type { LogSigningKey } from '../../core/keys';
import { signSet, type SetFields } from '../../core/set';
import { LogIdentity } from '../identity/log-identity';

/** The only holder of the log's private key. Present in sequencer processes only. */
@Injectable()
export class LogSigner {
  constructor(
    private readonly key: LogSigningKey,
    private readonly identity: LogIdentity,
    /** Ed25519 key for the C2SP checkpoint line; undefined when the log key is Ed25519. */
    private readonly noteKey?: LogSigningKey,
  ) {}

  /** Signed entry timestamp over {body, integratedTime, logID, logIndex}: randomised ECDSA (DER) or Ed25519. */
  signSet(fields: SetFields): Buffer {
    return signSet(this.key, fields);
  }

  /** The checkpoint note for this tree: Rekor-style line, then the C2SP line (deterministic signatures). */
  signCheckpoint(size: number, root: Buffer): string {
    return signLogCheckpoint(
      { origin: this.identity.origin, size, rootHash: root, extensions: [] },
      this.identity.hostname,
      this.key,
      this.noteKey,
    );
  }
}
