/**
 * The witness side of C2SP tlog-witness `POST /add-checkpoint`: the one parser of its body
 * (attacker input) and the decision a witness takes on it. Pure: the caller holds the stored
 * state, the clock and the key, and persists before it answers.
 *
 * Body, every line ending in "\n":
 *   old <decimal size>
 *   <0..63 base64 hashes: the RFC 6962 consistency proof old -> new>
 *   <empty line>
 *   <the checkpoint note, with one or more signatures>
 */
import { VellumError } from '../errors';
import { decodeBase64Strict } from '../encoding';
import { parseCheckpoint, type Checkpoint } from '../checkpoint';
import { openNote, type NoteSigner, type NoteVerifier, parseSignedNote, formatSignedNote } from '../note';
import { EMPTY_ROOT } from '../merkle/hash';
import { verifyConsistency } from '../merkle/verify';

/** The spec's bound on proof lines (a proof between trees below 2^63 has at most 63 hashes). */
export const MAX_PROOF_LINES = 63;
/** A generous bound on the whole body: 63 proof lines plus a checkpoint with 100 signatures. */
export const MAX_ADD_CHECKPOINT_BYTES = 64 * 1024;

export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Buffer[];
  /** the checkpoint note exactly as sent */
  readonly note: string;
  /** its checkpoint, parsed but not yet verified */
  readonly checkpoint: Checkpoint;
}

const SIZE_RE = /^(?:0|[1-9][0-9]*)$/;

function bad(message: string): never {
  throw new VellumError('INVALID_ARGUMENT', `add-checkpoint: ${message}`);
}

/** Parses an add-checkpoint body; INVALID_ARGUMENT (400) on anything malformed. */
export function parseAddCheckpointRequest(body: Uint8Array): AddCheckpointRequest {
  if (!(body instanceof Uint8Array)) bad('body must be bytes');
  if (body.length > MAX_ADD_CHECKPOINT_BYTES) {
    throw new VellumError('TOO_LARGE', `add-checkpoint body exceeds ${MAX_ADD_CHECKPOINT_BYTES} bytes`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    bad('body is not valid UTF-8');
  }
  const sep = text.indexOf('\n\n');
  if (sep < 0) bad('missing the empty line before the checkpoint');
  const head = text.slice(0, sep).split('\n');
  const note = text.slice(sep + 2);
  const first = head[0]!;
  if (!first.startsWith('old ')) bad('first line must be "old <size>"');
  const sizeText = first.slice(4);
  if (!SIZE_RE.test(sizeText)) bad('old size must be a decimal without leading zeros');
  const oldSize = Number(sizeText);
  if (!Number.isSafeInteger(oldSize)) bad('old size is too large');
  const lines = head.slice(1);
  if (lines.length > MAX_PROOF_LINES) bad(`more than ${MAX_PROOF_LINES} proof lines`);
  const proof = lines.map((line, i) => {
    let hash: Buffer;
    try {
      hash = decodeBase64Strict(line, 'proof hash');
    } catch {
      bad(`proof line ${i + 1} is not standard base64`);
    }
    if (hash.length !== 32) bad(`proof line ${i + 1} is not a 32-byte hash`);
    return hash;
  });
  if (note.length === 0) bad('missing checkpoint');
  // The note and its checkpoint text are parsed here, unverified, so that every malformed body
  // is a 400 (INVALID_NOTE would read as the server's own data failing).
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(parseSignedNote(note).text);
  } catch (e) {
    if (e instanceof VellumError && e.code === 'INVALID_NOTE') bad(e.message);
    throw e;
  }
  return { oldSize, proof, note, checkpoint };
}

/** What the witness last cosigned for an origin. */
export interface WitnessState {
  readonly size: number;
  readonly rootHash: Buffer;
}

/** A log the witness is configured to follow. */
export interface WitnessedLog {
  readonly origin: string;
  readonly verifiers: readonly NoteVerifier[];
}

/**
 * - cosign: the checkpoint is consistent with the stored state; persist `checkpoint` (compare
 *   and set from `stored`) and only then answer 200.
 * - conflict: 409 with the stored size in text/x.tlog.size.
 * - reject: a 4xx with the spec's status. `inconsistent` marks an authentic checkpoint that
 *   contradicts what the witness cosigned (fork or rollback): evidence worth an alert.
 */
export type AddCheckpointDecision =
  | { readonly kind: 'cosign'; readonly checkpoint: Checkpoint; readonly text: string }
  | { readonly kind: 'conflict'; readonly size: number }
  | {
      readonly kind: 'reject';
      readonly status: 400 | 403 | 404 | 422;
      readonly reason: string;
      readonly inconsistent?: boolean;
    };

function reject(
  status: 400 | 403 | 404 | 422,
  reason: string,
  inconsistent?: boolean,
): AddCheckpointDecision {
  return inconsistent ? { kind: 'reject', status, reason, inconsistent } : { kind: 'reject', status, reason };
}

/**
 * Decides on a parsed request. `findLog` maps an origin to its configured log; `stored` is the
 * state for that origin (undefined if never cosigned). Malformed notes are 400 (thrown by the
 * parser); everything else is a decision.
 */
export function decideAddCheckpoint(
  request: AddCheckpointRequest,
  findLog: (origin: string) => WitnessedLog | undefined,
  stored: (origin: string) => WitnessState | undefined,
): AddCheckpointDecision {
  // The origin picks the verifiers; it is trusted only once the note verifies under them.
  const origin = request.checkpoint.origin;
  const log = findLog(origin);
  if (log === undefined) return reject(404, `unknown origin ${JSON.stringify(origin)}`);
  let text: string;
  try {
    text = openNote(request.note, log.verifiers).text;
  } catch (e) {
    if (e instanceof VellumError && e.code === 'INVALID_NOTE') return reject(403, e.message);
    throw e;
  }
  const checkpoint = parseCheckpoint(text);
  if (request.oldSize > checkpoint.size) return reject(400, 'old size is greater than the checkpoint size');
  const state = stored(origin);
  const known = state?.size ?? 0;
  if (request.oldSize !== known) return { kind: 'conflict', size: known };
  if (checkpoint.size === 0 && !checkpoint.rootHash.equals(EMPTY_ROOT)) {
    return reject(422, 'a size-0 checkpoint must carry the empty-tree root');
  }
  if (state === undefined || state.size === 0) {
    if (request.proof.length !== 0) return reject(422, 'a proof from size 0 must be empty');
    return { kind: 'cosign', checkpoint, text };
  }
  if (checkpoint.size === state.size) {
    if (request.proof.length !== 0) return reject(422, 'a proof between equal sizes must be empty');
    if (!checkpoint.rootHash.equals(state.rootHash)) {
      return reject(422, `fork: a different root at cosigned size ${state.size}`, true);
    }
    return { kind: 'cosign', checkpoint, text };
  }
  try {
    verifyConsistency(state.size, checkpoint.size, request.proof, state.rootHash, checkpoint.rootHash);
  } catch (e) {
    if (e instanceof VellumError && e.code === 'INVALID_PROOF') {
      // An authentic checkpoint whose proof fails is either a bad client or a fork; report both.
      return reject(422, `consistency proof from ${state.size} does not verify: ${e.message}`, true);
    }
    throw e;
  }
  return { kind: 'cosign', checkpoint, text };
}

/** The 200 body: the cosignature line(s) of `text` by `signer` ("— <name> <base64>\n"). */
export function cosignatureLines(text: string, signer: NoteSigner): string {
  const note = formatSignedNote({
    text,
    signatures: [
      {
        name: signer.name,
        keyId: signer.keyId,
        signature: signer.sign(Buffer.from(text, 'utf8')),
      },
    ],
  });
  return note.slice(text.length + 1);
}
