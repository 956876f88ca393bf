import type { AcceptedEntry } from '../log/log.types';

/**
 * The protobuf-JSON `TransparencyLogEntry` (protobuf-specs `sigstore_rekor.proto`) of an entry
 * written through the v2 face, as rekor-tiles answers it: int64s as decimal strings, bytes as
 * base64, and every field present (rekor-tiles marshals with EmitUnpopulated), so `integratedTime`
 * is "0" and `inclusionPromise` null: v2 has no SET, clients get their time from a TSA.
 *
 * `logId.keyId` is the v2 log ID (the hash behind the checkpoint's note key ID). The proof is for
 * the tree of exactly the checkpoint returned with it; clients take size and root from that
 * verified checkpoint, and the copies here describe the same root.
 */
export function toTransparencyLogEntry(accepted: AcceptedEntry, v2LogId: Buffer): object {
  const { entry, checkpoint, inclusionProof } = accepted;
  return {
    logIndex: String(entry.index),
    logId: { keyId: v2LogId.toString('base64') },
    kindVersion: { kind: entry.kind, version: entry.apiVersion },
    integratedTime: '0',
    inclusionPromise: null,
    inclusionProof: {
      logIndex: String(entry.index),
      rootHash: checkpoint.rootHash.toString('base64'),
      treeSize: String(checkpoint.size),
      hashes: inclusionProof.map((h) => h.toString('base64')),
      checkpoint: { envelope: checkpoint.note },
    },
    canonicalizedBody: entry.body.toString('base64'),
  };
}
