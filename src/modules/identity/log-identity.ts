import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { checkpointNoteKey, logVerifierKeys, rekorOrigin, rekorV2LogId } from '../../core/checkpoint';
import type { LogPublicKey } from '../../core/keys';
import type { VellumDatabase } from '../storage/database';
import { META_TREE_ID } from './published-identity';

const TREE_ID_KEY = META_TREE_ID;

/** A random positive int64 (Trillian tree ids are positive), as a decimal string. */
function randomTreeId(): string {
  for (;;) {
    const b = randomBytes(8);
    b[0] = b[0]! & 0x7f;
    const v = b.readBigUInt64BE(0);
    if (v !== 0n) return v.toString(10);
  }
}

/**
 * Who the log is: tree id, public key, hostname. Public facts only, so API replicas can hold it
 * without the private key (see LogSigner).
 */
@Injectable()
export class LogIdentity {
  /** Decimal int64, random on first boot, persisted in `meta`. */
  readonly treeId: string;
  /** printf("%016x", treeId): the first 16 hex digits of every EntryID. */
  readonly treeIdHex: string;
  readonly logIdHex: string;
  /** Log ID of the Rekor v2 face (see rekorV2LogId); equals the v1 logID for ECDSA keys. */
  readonly v2LogId: Buffer;
  readonly origin: string;
  /** The Ed25519 key of every checkpoint's C2SP 0x01 line: the log key itself if Ed25519. */
  readonly noteKey: LogPublicKey;
  /** C2SP verifier keys of the checkpoints (see logVerifierKeys). */
  readonly vkeys: readonly string[];

  constructor(
    treeId: string,
    readonly publicKey: LogPublicKey,
    readonly hostname: string,
    notePublicKey?: LogPublicKey,
  ) {
    this.treeId = treeId;
    this.treeIdHex = BigInt.asUintN(64, BigInt(treeId)).toString(16).padStart(16, '0');
    this.logIdHex = publicKey.logIdHex;
    this.origin = rekorOrigin(hostname, treeId);
    this.v2LogId = rekorV2LogId(publicKey, hostname);
    this.noteKey = checkpointNoteKey(publicKey, notePublicKey);
    this.vkeys = Object.freeze(logVerifierKeys(hostname, publicKey, notePublicKey));
  }

  /** Rekor EntryID: 16 hex of the tree id, then the 64-hex leaf hash. */
  entryId(leafHash: Buffer): string {
    return this.treeIdHex + leafHash.toString('hex');
  }

  /**
   * Reads the tree id, or creates it on first boot. INSERT .. ON CONFLICT DO NOTHING then read:
   * if two processes boot together, both end up with whichever id committed first. A crash
   * before the commit leaves no id; the next boot draws a new one (nothing was signed yet).
   */
  static async load(
    db: VellumDatabase,
    publicKey: LogPublicKey,
    hostname: string,
    notePublicKey?: LogPublicKey,
  ): Promise<LogIdentity> {
    const treeId = await db.transaction(async (tx) => {
      await tx.execute('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [
        TREE_ID_KEY,
        randomTreeId(),
      ]);
      const rows = await tx.query<{ value: string }>('SELECT value FROM meta WHERE key = ?', [TREE_ID_KEY]);
      return rows[0]!.value;
    });
    return new LogIdentity(treeId, publicKey, hostname, notePublicKey);
  }
}
