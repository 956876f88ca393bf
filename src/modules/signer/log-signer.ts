import { Injectable } from '@nestjs/common';
import { signRekorCheckpoint } from '../../core/checkpoint';
import type { LogSigningKey } from '../../core/keys';
import { signSet, type SetFields } from '../../core/set';
import { LogIdentity } from '../identity/log-identity';

/** The only holder of the log's private key. Present in sequencer processes only. */
@Injectable()
export class LogSigner {
  constructor(
    private readonly key: LogSigningKey,
    private readonly identity: LogIdentity,
  ) {}

  /** Signed entry timestamp over {body, integratedTime, logID, logIndex}: randomised ECDSA (DER) or Ed25519. */
  signSet(fields: SetFields): Buffer {
    return signSet(this.key, fields);
  }

  /** The full Rekor-style checkpoint note for this tree (deterministic signature). */
  signCheckpoint(size: number, root: Buffer): string {
    return signRekorCheckpoint(
      { origin: this.identity.origin, size, rootHash: root, extensions: [] },
      this.key,
      this.identity.hostname,
    );
  }
}
