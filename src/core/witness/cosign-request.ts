/**
 * The log side of C2SP tlog-witness: the add-checkpoint body a log sends, and the checks on what
 * a witness answers (a 409's text/x.tlog.size body, a 200's cosignature lines). Witness answers
 * are untrusted input even though the witness URL is operator configuration.
 */
import { VellumError } from '../errors';
import { openNote, parseSignedNote, type NoteSignature, type NoteVerifier } from '../note';

const SIZE_LINE_RE = /^(?:0|[1-9][0-9]*)\n$/;
/** A 200 body is a few signature lines; anything longer is not a cosignature answer. */
export const MAX_COSIGNATURE_RESPONSE_BYTES = 8 * 1024;

/** "old <size>\n", one base64 line per proof hash, "\n", then the checkpoint note. */
export function formatAddCheckpointRequest(
  oldSize: number,
  proof: readonly Uint8Array[],
  note: string,
): string {
  if (!Number.isSafeInteger(oldSize) || oldSize < 0) {
    throw new VellumError('INVALID_ARGUMENT', `old size ${oldSize} is not a non-negative integer`);
  }
  let out = `old ${oldSize}\n`;
  for (const h of proof) out += Buffer.from(h).toString('base64') + '\n';
  return out + '\n' + note;
}

/** The witness's size from a 409 answer body ("<size>\n"). */
export function parseTlogSize(body: string): number {
  if (!SIZE_LINE_RE.test(body)) throw new VellumError('INVALID_ARGUMENT', 'witness size body is malformed');
  const size = Number(body.slice(0, -1));
  if (!Number.isSafeInteger(size)) throw new VellumError('INVALID_ARGUMENT', 'witness size is too large');
  return size;
}

/**
 * Checks a 200 body against the witness's verifier: the lines, appended to the checkpoint text,
 * must make a note that `witness` verifies. Returns the signature the witness made (INVALID_NOTE
 * otherwise), which the log stores and serves.
 */
export function verifyCosignatureResponse(
  checkpointText: string,
  body: string,
  witness: NoteVerifier,
): NoteSignature {
  if (body.length > MAX_COSIGNATURE_RESPONSE_BYTES) {
    throw new VellumError('INVALID_NOTE', 'witness answer is too long');
  }
  const opened = openNote(`${checkpointText}\n${body}`, [witness]);
  return opened.verifiedSignatures[0]!;
}

/**
 * The witnessed note: the log's note with the cosignature lines appended, deduplicated by
 * (name, key ID), so a witness answering twice is counted once.
 */
export function appendCosignatures(note: string, cosignatures: readonly NoteSignature[]): string {
  const parsed = parseSignedNote(note);
  let out = note;
  const seen = new Set(parsed.signatures.map((s) => `${s.name}+${s.keyId}`));
  for (const sig of cosignatures) {
    const key = `${sig.name}+${sig.keyId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const raw = Buffer.allocUnsafe(4 + sig.signature.length);
    raw.writeUInt32BE(sig.keyId, 0);
    raw.set(sig.signature, 4);
    out += `\u2014 ${sig.name} ${raw.toString('base64')}\n`;
  }
  return out;
}
