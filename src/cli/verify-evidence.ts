import { type Checkpoint, verifyRekorCheckpoint } from '../core/checkpoint';
import { decodeBase64Strict } from '../core/encoding';
import type { LogPublicKey } from '../core/keys';
import { leafHash } from '../core/merkle/hash';
import { verifyInclusion } from '../core/merkle/verify';
import { parseVerifierKey } from '../core/note';
import { verifySet } from '../core/set';
import {
  parseTlogProof,
  verifyTlogProof,
  verifyWitnessedCheckpoint,
  type TlogProof,
  type VerifiedCheckpoint,
  type WitnessPolicy,
} from '../core/tlog-proof';
import { UsageError } from './args';

/**
 * What `vellum verify` checks of the evidence an entry carries, with no network: a Rekor v1
 * LogEntry, a Sigstore bundle's transparency-log entries (v1 and v2), or a C2SP tlog-proof. Each
 * check is a core function; here they are run in order and their errors reworded for the user.
 */

/** A verification failure: printed as `verification failed: <message>`, exit code 1. */
export class VerifyFailure extends Error {}

export function fail(message: string): never {
  throw new VerifyFailure(message);
}

/** Runs a core check and rewords its error as a verification failure about `what`. */
export function check<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VerifyFailure) throw e;
    fail(`${what}: ${(e as Error).message}`);
  }
}

/** `--witness VKEY` (repeatable) and `--witness-quorum K` (default: every listed witness). */
export function witnessPolicy(vkeys: readonly string[], quorum: string | undefined): WitnessPolicy {
  const witnesses = vkeys.map((v) => {
    try {
      return parseVerifierKey(v);
    } catch (e) {
      throw new UsageError(`--witness ${v}: ${(e as Error).message}`);
    }
  });
  if (quorum !== undefined && (!/^[0-9]+$/.test(quorum) || Number(quorum) > witnesses.length))
    throw new UsageError(
      `--witness-quorum must be a whole number from 0 to the ${witnesses.length} --witness keys`,
    );
  return { witnesses, quorum: quorum === undefined ? witnesses.length : Number(quorum) };
}

function cosigned(v: VerifiedCheckpoint, policy: WitnessPolicy): string {
  return policy.quorum === 0
    ? ''
    : `, cosigned by ${v.cosignedBy.join(', ')} (${v.cosignedBy.length} of ${policy.witnesses.length}, quorum ${policy.quorum})`;
}

function hexHashes(v: unknown, what: string): Buffer[] {
  if (!Array.isArray(v)) fail(`${what} is not an array`);
  return v.map((h, i) => {
    if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h))
      fail(`${what}[${i}] is not 64 lowercase hex digits`);
    return Buffer.from(h, 'hex');
  });
}

export function originTreeId(cp: Checkpoint): string {
  const m = / - (-?[0-9]+)$/.exec(cp.origin);
  if (!m) fail(`checkpoint origin ${JSON.stringify(cp.origin)} is not "<hostname> - <treeID>"`);
  return m[1]!;
}

export interface CheckedV1Entry {
  readonly id: string;
  readonly logIndex: number;
  /** The inclusion proof's leaf index (the index in this tree). */
  readonly proofIndex: number;
  readonly body: Buffer;
  readonly checkpoint: Checkpoint;
  readonly treeId: string;
  /** The same evidence as a C2SP tlog-proof (for `--write-proof`). */
  readonly proof: TlogProof;
  readonly report: string;
}

/** A Rekor v1 LogEntry ({uuid: entry}): leaf hash = UUID, logID, SET, checkpoint, inclusion, witnesses. */
export function checkV1Entry(doc: unknown, pub: LogPublicKey, policy: WitnessPolicy): CheckedV1Entry {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail('entry is not a LogEntry object');
  const ids = Object.keys(doc);
  if (ids.length !== 1) fail(`a LogEntry has exactly one key, this one has ${ids.length}`);
  const id = ids[0]!.toLowerCase();
  if (!/^([0-9a-f]{64}|[0-9a-f]{80})$/.test(id)) fail(`entry key ${ids[0]} is not an entry UUID`);
  const e = (doc as Record<string, any>)[ids[0]!];
  if (typeof e !== 'object' || e === null) fail('entry value is not an object');
  const ip = e.verification?.inclusionProof;
  const setB64 = e.verification?.signedEntryTimestamp;
  if (typeof ip !== 'object' || ip === null) fail('entry has no inclusion proof');
  if (typeof setB64 !== 'string') fail('entry has no signed entry timestamp');
  const body = check('entry body', () => decodeBase64Strict(e.body, 'body'));
  const leaf = leafHash(body);
  if (id.slice(-64) !== leaf.toString('hex'))
    fail(`entry UUID ${id} does not match the body (leaf hash ${leaf.toString('hex')})`);
  if (e.logID !== pub.logIdHex)
    fail(`entry logID ${String(e.logID)} is not the given key's logID ${pub.logIdHex}`);
  check('signed entry timestamp', () =>
    verifySet(
      pub,
      { body: e.body, integratedTime: e.integratedTime, logID: e.logID, logIndex: e.logIndex },
      decodeBase64Strict(setB64, 'signedEntryTimestamp'),
    ),
  );
  const v = check('entry checkpoint', () =>
    verifyWitnessedCheckpoint(String(ip.checkpoint), (n) => verifyRekorCheckpoint(n, pub), policy),
  );
  const cp = v.checkpoint;
  const treeId = originTreeId(cp);
  if (id.length === 80) {
    const want = BigInt.asUintN(64, BigInt(treeId)).toString(16).padStart(16, '0');
    if (id.slice(0, 16) !== want)
      fail(`entry UUID tree part ${id.slice(0, 16)} is not the checkpoint's tree ${want}`);
  }
  if (ip.treeSize !== cp.size)
    fail(`inclusionProof.treeSize ${ip.treeSize} is not the checkpoint size ${cp.size}`);
  if (ip.rootHash !== cp.rootHash.toString('hex')) fail('inclusionProof.rootHash is not the checkpoint root');
  if (!Number.isSafeInteger(ip.logIndex) || ip.logIndex > e.logIndex)
    fail('inclusionProof.logIndex is inconsistent with logIndex');
  const hashes = hexHashes(ip.hashes, 'inclusionProof.hashes');
  check('inclusion proof', () => verifyInclusion(leaf, ip.logIndex, cp.size, hashes, cp.rootHash));
  return {
    id,
    logIndex: e.logIndex,
    proofIndex: ip.logIndex,
    body,
    checkpoint: cp,
    treeId,
    proof: { index: ip.logIndex, hashes, checkpoint: String(ip.checkpoint) },
    report:
      `entry ${id} OK: index ${e.logIndex}, integrated ${new Date(e.integratedTime * 1000).toISOString()}, ` +
      `included in checkpoint size ${cp.size} (SET, checkpoint signature and inclusion proof verified${cosigned(v, policy)})`,
  };
}

/** A C2SP tlog-proof for the leaf `leaf` (hash of the entry's bytes). */
export function checkTlogProof(text: string, leaf: Buffer, pub: LogPublicKey, policy: WitnessPolicy): string {
  const p = check('tlog-proof', () => parseTlogProof(text));
  const v = check('tlog-proof', () => verifyTlogProof(p, leaf, (n) => verifyRekorCheckpoint(n, pub), policy));
  return (
    `tlog-proof OK: leaf ${leaf.toString('hex')} at index ${p.index} of checkpoint ${v.checkpoint.origin} size ${v.checkpoint.size} ` +
    `(checkpoint signature and inclusion proof verified${cosigned(v, policy)})`
  );
}
