/**
 * Checkpoints (c2sp.org/tlog-checkpoint) and the Rekor v1 flavour of them.
 *
 * Rekor v1 differs from a generic C2SP log in two ways that clients depend on: the origin is
 * "<hostname> - <treeID>" while the signature name is the bare hostname, and the key ID is
 * SHA-256(DER SPKI)[:4] (= logID[0:4]) for every key type. For ECDSA that coincides with C2SP type
 * 0x02; for Ed25519 it does not match C2SP 0x01, so generic Ed25519 note verifiers ignore it.
 */
import { VellumError } from './errors';
import { decodeBase64Strict, isWellFormedUnicode } from './encoding';
import type { LogPublicKey, LogSigningKey } from './keys';
import {
  c2spKeyHash,
  ed25519NoteSigner,
  formatVerifierKey,
  NOTE_KEY_TYPE,
  isValidNoteName,
  parseSignedNote,
  rekorKeyId,
  signNote,
  type NoteSigner,
  type NoteVerifier,
} from './note';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  /** opaque non-empty lines after the root (old Rekor checkpoints carry "Timestamp: <nanos>") */
  readonly extensions: readonly string[];
}

const SIZE_RE = /^(?:0|[1-9][0-9]*)$/;
// A checkpoint line: non-empty, no newline, no other control characters.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u001F]/;

function cpError(message: string): never {
  throw new VellumError('INVALID_NOTE', message);
}

function checkLine(line: string, what: string): void {
  if (typeof line !== 'string' || line.length === 0) cpError(`checkpoint ${what} is empty`);
  if (CONTROL_RE.test(line)) cpError(`checkpoint ${what} contains a control character`);
  if (!isWellFormedUnicode(line)) cpError(`checkpoint ${what} is not valid UTF-8`);
}

/**
 * "origin\nsize\nbase64(root)\n" plus one line per extension. Empty lines are refused: sigstore-js
 * splits a note at its FIRST blank line, so one inside the text would break every client.
 */
export function formatCheckpoint(cp: Checkpoint): string {
  checkLine(cp.origin, 'origin');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0)
    cpError(`checkpoint size ${cp.size} is not a non-negative integer`);
  if (!(cp.rootHash instanceof Uint8Array) || cp.rootHash.length !== 32)
    cpError('root hash must be 32 bytes');
  let out = `${cp.origin}\n${cp.size}\n${Buffer.from(cp.rootHash).toString('base64')}\n`;
  for (const ext of cp.extensions) {
    checkLine(ext, 'extension line');
    out += ext + '\n';
  }
  return out;
}

/** Parses checkpoint text (the signed part of the note, final newline included). */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== 'string' || !text.endsWith('\n')) cpError('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) cpError('checkpoint needs origin, size and root hash lines');
  lines.forEach((l, i) => checkLine(l, `line ${i + 1}`));
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!SIZE_RE.test(sizeText)) cpError('checkpoint size must be a decimal without leading zeros');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) cpError('checkpoint size is too large');
  let rootHash: Buffer;
  try {
    rootHash = decodeBase64Strict(rootText, 'root hash');
  } catch {
    cpError('checkpoint root hash is not valid standard base64');
  }
  if (rootHash.length !== 32) cpError(`checkpoint root hash must be 32 bytes, got ${rootHash.length}`);
  return { origin, size, rootHash, extensions };
}

/** Rekor v1 origin line: "<hostname> - <treeID decimal>". */
export function rekorOrigin(hostname: string, treeId: string): string {
  if (!isValidNoteName(hostname)) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `hostname ${JSON.stringify(hostname)} is not a valid note key name`,
    );
  }
  if (typeof treeId !== 'string' || !/^-?(?:0|[1-9][0-9]*)$/.test(treeId)) {
    throw new VellumError('INVALID_ARGUMENT', `tree ID ${JSON.stringify(treeId)} is not a decimal integer`);
  }
  return `${hostname} - ${treeId}`;
}

/** Key ID = logID[0:4] for both algorithms; ECDSA signs with RFC 6979 so re-signing is reproducible. */
export function rekorNoteSigner(signerName: string, key: LogSigningKey): NoteSigner {
  if (!isValidNoteName(signerName)) cpError(`invalid signer name ${JSON.stringify(signerName)}`);
  return {
    name: signerName,
    keyId: rekorKeyId(key.publicKey.der),
    sign: (text) => key.signDeterministic(text),
  };
}

export function rekorNoteVerifier(signerName: string, key: LogPublicKey): NoteVerifier {
  if (!isValidNoteName(signerName)) cpError(`invalid signer name ${JSON.stringify(signerName)}`);
  return { name: signerName, keyId: rekorKeyId(key.der), verify: (text, sig) => key.verify(text, sig) };
}

/** The full note: checkpoint text, blank line, exactly one signature line. */
export function signRekorCheckpoint(cp: Checkpoint, key: LogSigningKey, signerName: string): string {
  return signNote(formatCheckpoint(cp), [rekorNoteSigner(signerName, key)]);
}

/**
 * Every Vellum checkpoint: first the Rekor-style line by the log key (what Rekor v1 clients and
 * sigstore-js match by logID[0:4]), then a C2SP type 0x01 Ed25519 line with the same name, so
 * generic note verifiers, witnesses and Rekor v2 clients (key hint = v2 log ID[0:4]) verify it too.
 * An Ed25519 log key signs that second line itself (its C2SP key ID differs from SHA-256(SPKI)[:4]);
 * an ECDSA log key needs a separate Ed25519 note key for it.
 */
export function logCheckpointSigners(
  signerName: string,
  logKey: LogSigningKey,
  noteKey: LogSigningKey | undefined,
): NoteSigner[] {
  if (logKey.algorithm === 'ed25519') {
    if (noteKey !== undefined && !noteKey.publicKey.der.equals(logKey.publicKey.der)) {
      throw new VellumError(
        'INVALID_KEY',
        'an Ed25519 log key signs the C2SP line itself; no note key is used',
      );
    }
    return [rekorNoteSigner(signerName, logKey), ed25519NoteSigner(signerName, logKey)];
  }
  if (noteKey === undefined)
    throw new VellumError('INVALID_KEY', 'an ECDSA log key needs an Ed25519 note key');
  return [rekorNoteSigner(signerName, logKey), ed25519NoteSigner(signerName, noteKey)];
}

/** The full two-line checkpoint note (see logCheckpointSigners); deterministic signatures. */
export function signLogCheckpoint(
  cp: Checkpoint,
  signerName: string,
  logKey: LogSigningKey,
  noteKey: LogSigningKey | undefined,
): string {
  return signNote(formatCheckpoint(cp), logCheckpointSigners(signerName, logKey, noteKey));
}

/**
 * The Ed25519 key behind a log's C2SP 0x01 checkpoint line: the log key itself when it is
 * Ed25519, else the note key.
 */
export function checkpointNoteKey(logKey: LogPublicKey, noteKey: LogPublicKey | undefined): LogPublicKey {
  if (logKey.algorithm === 'ed25519') return logKey;
  if (noteKey === undefined || noteKey.algorithm !== 'ed25519') {
    throw new VellumError('INVALID_KEY', 'an ECDSA log key needs an Ed25519 note key');
  }
  return noteKey;
}

/**
 * The C2SP verifier keys (vkeys) of a log's checkpoints. ECDSA: the 0x02 vkey, whose key ID is
 * SHA-256(SPKI)[:4] and so names the Rekor-style line, and the note key's 0x01 vkey. Ed25519: only
 * the 0x01 vkey, since the Rekor-style line's SPKI-hash key ID matches no C2SP key type.
 */
export function logVerifierKeys(
  signerName: string,
  logKey: LogPublicKey,
  noteKey: LogPublicKey | undefined,
): string[] {
  const c2sp = formatVerifierKey(signerName, NOTE_KEY_TYPE.ed25519, checkpointNoteKey(logKey, noteKey).raw);
  if (logKey.algorithm === 'ed25519') return [c2sp];
  return [formatVerifierKey(signerName, NOTE_KEY_TYPE.ecdsa, logKey.der), c2sp];
}

/**
 * Verifies a Rekor v1 checkpoint note and returns its contents. Signatures are matched by key hint
 * (and by name when `signerName` is given, which is what sigstore-js effectively requires); others
 * are ignored. As in the C2SP rules, a matching signature that fails rejects the note.
 * INVALID_NOTE on any failure.
 */
export function verifyRekorCheckpoint(note: string, key: LogPublicKey, signerName?: string): Checkpoint {
  const parsed = parseSignedNote(note);
  const hint = rekorKeyId(key.der);
  const text = Buffer.from(parsed.text, 'utf8');
  let verified = 0;
  for (const sig of parsed.signatures) {
    if (sig.keyId !== hint || (signerName !== undefined && sig.name !== signerName)) continue;
    if (!key.verify(text, sig.signature)) cpError(`checkpoint signature by ${sig.name} does not verify`);
    verified++;
  }
  if (verified === 0) {
    cpError(
      `checkpoint has no signature${signerName === undefined ? '' : ` named ${signerName}`} with key hint ${hint.toString(16).padStart(8, '0')}`,
    );
  }
  return parseCheckpoint(parsed.text);
}

/**
 * The log ID a Rekor v2 client sees (TransparencyLogEntry.logId, TrustedRoot tlogs[].logId): the
 * full hash behind the C2SP note key ID of the checkpoint line it verifies. ECDSA: SHA-256(DER
 * SPKI), the same bytes as the v1 logID. Ed25519: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key), which differs
 * from the v1 logID, so an Ed25519 log shows two IDs, one per face.
 */
export function rekorV2LogId(key: LogPublicKey, signerName: string): Buffer {
  if (key.algorithm === 'ed25519') return c2spKeyHash(signerName, NOTE_KEY_TYPE.ed25519, key.raw);
  return key.logId;
}
