import { bundleFromJSON } from '@sigstore/bundle';
import { rekorV2LogId, verifyRekorCheckpoint } from '../core/checkpoint';
import type { LogPublicKey } from '../core/keys';
import { leafHash } from '../core/merkle/hash';
import { verifyInclusion } from '../core/merkle/verify';
import { verifySet } from '../core/set';
import { verifyWitnessedCheckpoint, type WitnessPolicy } from '../core/tlog-proof';
import { check, fail } from './verify-evidence';

/**
 * The transparency-log evidence in a Sigstore bundle (v0.1-v0.3), checked offline against the
 * log's key: for each tlog entry, the leaf hash of its canonicalized body, its inclusion proof up
 * to the checkpoint root, the checkpoint's signature (and the witness policy), and for a Rekor
 * v1 entry (kind version 0.0.1) its signed entry timestamp. The bundle's shape is checked by
 * @sigstore/bundle, the reader sigstore-js itself uses; the artifact signature is not checked
 * here (that is the client's verify step, with the artifact in hand).
 */
export function checkBundle(json: unknown, pub: LogPublicKey, policy: WitnessPolicy): string[] {
  const bundle = check('bundle', () => bundleFromJSON(json));
  const entries = bundle.verificationMaterial?.tlogEntries ?? [];
  if (entries.length === 0) fail('bundle has no transparency log entries');
  const out: string[] = [];
  for (const [n, t] of entries.entries()) {
    const what = `tlog entry ${n}`;
    const logIndex = check(`${what} logIndex`, () => safeInt(t.logIndex));
    const body = t.canonicalizedBody;
    if (!t.logId) fail(`${what} has no logId`);
    const ip = t.inclusionProof;
    if (!ip) fail(`${what} has no inclusion proof`);
    if (!ip.checkpoint?.envelope) fail(`${what} has no checkpoint`);
    const v = check(`${what} checkpoint`, () =>
      verifyWitnessedCheckpoint(ip.checkpoint!.envelope, (note) => verifyRekorCheckpoint(note, pub), policy),
    );
    const cp = v.checkpoint;
    // v1 entries name the log by SHA-256 of its key; v2 ones by the key hash of the checkpoint line
    // they verify (the same bytes for ECDSA, different for an Ed25519 log).
    const v1 = t.kindVersion?.version === '0.0.1';
    const wantId = v1 ? pub.logId : rekorV2LogId(pub, cp.origin);
    if (!t.logId.keyId.equals(wantId))
      fail(`${what}: logId is not the given log key's (${wantId.toString('hex')})`);
    const size = check(`${what} treeSize`, () => safeInt(ip.treeSize));
    if (size !== cp.size)
      fail(`${what}: inclusion proof tree size ${size} is not the checkpoint size ${cp.size}`);
    if (!ip.rootHash.equals(cp.rootHash)) fail(`${what}: inclusion proof root is not the checkpoint root`);
    const proofIndex = check(`${what} inclusion proof logIndex`, () => safeInt(ip.logIndex));
    check(`${what} inclusion proof`, () =>
      verifyInclusion(leafHash(body), proofIndex, cp.size, ip.hashes, cp.rootHash),
    );
    const kind = `${t.kindVersion?.kind ?? '?'} ${t.kindVersion?.version ?? '?'}`;
    let set = 'no SET (a Rekor v2 entry carries none)';
    if (t.inclusionPromise) {
      check(`${what} signed entry timestamp`, () =>
        verifySet(
          pub,
          {
            body: body.toString('base64'),
            integratedTime: safeInt(t.integratedTime),
            logID: t.logId!.keyId.toString('hex'),
            logIndex,
          },
          t.inclusionPromise!.signedEntryTimestamp,
        ),
      );
      set = 'SET verified';
    } else if (v1) fail(`${what}: a Rekor v1 entry without its signed entry timestamp`);
    const cosigned = policy.quorum === 0 ? '' : `; cosigned by ${v.cosignedBy.join(', ')}`;
    out.push(
      `${what} OK: ${kind}, index ${logIndex}, included in checkpoint size ${cp.size} (checkpoint signature and inclusion proof verified; ${set}${cosigned})`,
    );
  }
  const tsa = bundle.verificationMaterial?.timestampVerificationData?.rfc3161Timestamps.length ?? 0;
  if (tsa > 0) out.push(`the bundle carries ${tsa} RFC 3161 timestamp(s): not checked by this command`);
  return out;
}

function safeInt(s: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(s) || !Number.isSafeInteger(Number(s)))
    throw new Error(`${JSON.stringify(s)} is not an index`);
  return Number(s);
}
