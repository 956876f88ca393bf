/**
 * C2SP tlog-proof (c2sp.org/tlog-proof@v1): an entry's inclusion proof and the checkpoint it
 * proves into, in one text a verifier can check with no network.
 *
 *   c2sp.org/tlog-proof@v1
 *   extra <base64>        optional, NOT authenticated: application data the proof carries along
 *   index <leaf index>
 *   <base64 hash>         zero or more, the leaf's sibling first, up to the root's child
 *   (blank line)
 *   <checkpoint note, verbatim, with the log signature and any cosignatures>
 *
 * The text is attacker input: parsing is strict (one spelling of every field, canonical base64,
 * decimal without leading zeros, at most 64 hashes, which covers any tree of up to 2^64 leaves)
 * and bounded in size before anything is split.
 */
import { VellumError } from './errors';
import { decodeBase64Strict } from './encoding';
import type { Checkpoint } from './checkpoint';
import { verifyInclusion } from './merkle/verify';
import { openNote, type NoteVerifier } from './note';

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** Larger than any honest proof (64 hashes, a checkpoint with 100 signatures and extensions). */
export const MAX_TLOG_PROOF_BYTES = 64 * 1024;
const MAX_PROOF_HASHES = 64;

export interface TlogProof {
  readonly extra?: Buffer;
  readonly index: number;
  readonly hashes: readonly Buffer[];
  /** The signed checkpoint note, verbatim. */
  readonly checkpoint: string;
}

function bad(why: string): never {
  throw new VellumError('INVALID_PROOF', `tlog-proof: ${why}`);
}

function decimal(s: string, what: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(s)) bad(`${what} is not a decimal number`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) bad(`${what} is too large`);
  return n;
}

export function parseTlogProof(text: string): TlogProof {
  if (typeof text !== 'string') bad('not text');
  if (Buffer.byteLength(text, 'utf8') > MAX_TLOG_PROOF_BYTES)
    bad(`larger than ${MAX_TLOG_PROOF_BYTES} bytes`);
  const split = text.indexOf('\n\n');
  if (split < 0) bad('no blank line before the checkpoint');
  const lines = text.slice(0, split).split('\n');
  const checkpoint = text.slice(split + 2);
  if (lines[0] !== TLOG_PROOF_HEADER) bad(`first line must be ${TLOG_PROOF_HEADER}`);
  let i = 1;
  let extra: Buffer | undefined;
  if (lines[i]?.startsWith('extra ')) {
    try {
      extra = decodeBase64Strict(lines[i]!.slice(6), 'extra');
    } catch {
      bad('extra is not canonical base64');
    }
    i++;
  }
  const m = /^index (.*)$/.exec(lines[i] ?? '');
  if (!m) bad('expected an "index <n>" line');
  const index = decimal(m[1]!, 'index');
  const hashLines = lines.slice(i + 1);
  if (hashLines.length > MAX_PROOF_HASHES) bad(`more than ${MAX_PROOF_HASHES} proof hashes`);
  const hashes = hashLines.map((l, k) => {
    let h: Buffer;
    try {
      h = decodeBase64Strict(l, `hash ${k}`);
    } catch {
      bad(`proof hash ${k} is not canonical base64`);
    }
    if (h.length !== 32) bad(`proof hash ${k} is ${h.length} bytes, not 32`);
    return h;
  });
  if (checkpoint.length === 0) bad('no checkpoint after the blank line');
  return { ...(extra ? { extra } : {}), index, hashes, checkpoint };
}

export function formatTlogProof(p: TlogProof): string {
  const lines = [TLOG_PROOF_HEADER];
  if (p.extra) lines.push(`extra ${p.extra.toString('base64')}`);
  lines.push(`index ${p.index}`, ...p.hashes.map((h) => h.toString('base64')));
  return `${lines.join('\n')}\n\n${p.checkpoint}`;
}

/** k of the listed witnesses must have cosigned (each counted once, by name and key ID). */
export interface WitnessPolicy {
  readonly witnesses: readonly NoteVerifier[];
  readonly quorum: number;
}

export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** Names of the policy's witnesses whose cosignature verified. */
  readonly cosignedBy: readonly string[];
}

/**
 * Opens a checkpoint note: the log's signature must verify (`verifyLog` throws otherwise), and
 * the witness policy must be met. A cosignature by a listed witness that does not verify rejects
 * the note, as any bad signature by a known key does.
 */
export function verifyWitnessedCheckpoint(
  note: string,
  verifyLog: (note: string) => Checkpoint,
  policy: WitnessPolicy,
): VerifiedCheckpoint {
  const checkpoint = verifyLog(note);
  if (policy.quorum < 0 || policy.quorum > policy.witnesses.length)
    throw new VellumError(
      'INVALID_ARGUMENT',
      `witness quorum ${policy.quorum} of ${policy.witnesses.length} witnesses`,
    );
  if (policy.quorum === 0) return { checkpoint, cosignedBy: [] };
  let cosignedBy: string[];
  try {
    cosignedBy = openNote(note, policy.witnesses).verifiedBy.map((v) => v.name);
  } catch (e) {
    if (e instanceof VellumError && /no signature by a known key/.test(e.message)) cosignedBy = [];
    else throw e;
  }
  if (cosignedBy.length < policy.quorum)
    throw new VellumError(
      'INVALID_NOTE',
      `checkpoint cosigned by ${cosignedBy.length} of the required ${policy.quorum} witnesses` +
        (cosignedBy.length ? ` (${cosignedBy.join(', ')})` : ''),
    );
  return { checkpoint, cosignedBy };
}

/** Checks a proof for `leafHash`: log signature, witness policy, then inclusion in the checkpoint's root. */
export function verifyTlogProof(
  p: TlogProof,
  leafHash: Uint8Array,
  verifyLog: (note: string) => Checkpoint,
  policy: WitnessPolicy,
): VerifiedCheckpoint {
  const v = verifyWitnessedCheckpoint(p.checkpoint, verifyLog, policy);
  if (p.index >= v.checkpoint.size)
    bad(`index ${p.index} is not below the checkpoint size ${v.checkpoint.size}`);
  verifyInclusion(leafHash, p.index, v.checkpoint.size, [...p.hashes], v.checkpoint.rootHash);
  return v;
}
