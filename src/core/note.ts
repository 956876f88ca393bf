/**
 * C2SP signed notes (c2sp.org/signed-note): text, a blank line, then "— <name> <base64>" lines whose
 * payload is a 4-byte big-endian key ID followed by the signature. Parsing mirrors the reference
 * implementation (golang.org/x/mod/sumdb/note) so that Vellum accepts and rejects the same notes
 * as Go verifiers: split at the LAST "\n\n", at most 100 signature lines, a known signer's repeated
 * lines are checked once.
 */
import { createHash } from 'node:crypto';
import { VellumError } from './errors';
import { decodeBase64Strict, isWellFormedUnicode } from './encoding';
import { LogPublicKey, type LogSigningKey } from './keys';

export interface NoteSignature {
  readonly name: string;
  /** uint32, big-endian on the wire */
  readonly keyId: number;
  /** the signature bytes after the 4-byte key ID */
  readonly signature: Buffer;
}

export interface SignedNote {
  /** the signed text, including its final "\n" but not the blank separator line */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: Uint8Array): Buffer;
}

/** A verifier built from a vkey string, with the decoded key material. */
export interface ParsedVerifierKey extends NoteVerifier {
  readonly type: number;
  /** the key bytes after the type byte (raw Ed25519 key, or DER SPKI for 0x02) */
  readonly publicKey: Buffer;
  readonly vkey: string;
}

/** Signature type bytes (c2sp.org/signed-note §Signature types). */
export const NOTE_KEY_TYPE = {
  ed25519: 0x01,
  /** ECDSA as in transparency-dev/witness; key ID is SHA-256(DER SPKI)[:4] with no name/type. */
  ecdsa: 0x02,
  /** timestamped Ed25519 checkpoint cosignature (cosignature/v1) */
  cosignatureV1: 0x04,
} as const;

/** Same bound as Go's note.Open: avoids unbounded work on hostile notes; the spec asks for >= 16. */
export const MAX_NOTE_SIGNATURES = 100;

const SIG_PREFIX = '\u2014 ';
// Go's unicode.IsSpace: ASCII whitespace, NEL, NBSP and the Z categories. Differs from JS `\s`,
// which adds U+FEFF and omits U+0085.
const UNICODE_SPACE_RE = /[\t\n\v\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]/;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_RE = /[\u0000-\u0009\u000B-\u001F]/;
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function vkeyError(why: string): never {
  throw new VellumError('INVALID_KEY', `verifier key: ${why}`);
}

function noteError(message: string): never {
  throw new VellumError('INVALID_NOTE', message);
}

/** Key names: non-empty, no Unicode spaces, no '+'. */
export function isValidNoteName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    !UNICODE_SPACE_RE.test(name) &&
    !name.includes('+') &&
    !CONTROL_RE.test(name) &&
    isWellFormedUnicode(name)
  );
}

function isUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function checkNoteChars(s: string, what: string): void {
  if (!isWellFormedUnicode(s)) noteError(`${what} is not valid UTF-8 (lone surrogate)`);
  const m = CONTROL_RE.exec(s);
  if (m) {
    noteError(`${what} contains control character U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
}

function checkText(text: string): void {
  if (typeof text !== 'string' || text.length === 0) noteError('note text is empty');
  if (!text.endsWith('\n')) noteError('note text must end with a newline');
  checkNoteChars(text, 'note text');
}

/**
 * Decodes a note received as bytes. TextDecoder without `fatal` would turn invalid UTF-8 into
 * U+FFFD, and the note would then verify against bytes nobody signed.
 */
export function decodeNoteBytes(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    noteError('note is not valid UTF-8');
  }
}

export function parseSignedNote(note: string): SignedNote {
  if (typeof note !== 'string') noteError('note must be a string');
  checkNoteChars(note, 'note');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) noteError('note has no blank line separating the text from the signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block.length === 0) noteError('note has no signatures');
  if (!block.endsWith('\n')) noteError('note must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) noteError(`note has more than ${MAX_NOTE_SIGNATURES} signatures`);
  const signatures: NoteSignature[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith(SIG_PREFIX)) {
      const hint = /^(?:-|\u2013|\u2212)/.test(line)
        ? ' (it must be the em dash U+2014, then one space)'
        : '';
      noteError(`signature line ${i + 1} does not start with "— "${hint}`);
    }
    const rest = line.slice(SIG_PREFIX.length);
    const sp = rest.indexOf(' ');
    if (sp < 0) noteError(`signature line ${i + 1} has no space between name and signature`);
    const name = rest.slice(0, sp);
    const b64 = rest.slice(sp + 1);
    if (!isValidNoteName(name)) {
      noteError(
        `signature line ${i + 1}: key name ${JSON.stringify(name)} is empty or contains a space or '+'`,
      );
    }
    let raw: Buffer;
    try {
      raw = decodeBase64Strict(b64, 'signature');
    } catch {
      noteError(`signature line ${i + 1}: signature is not valid standard base64`);
    }
    if (raw.length < 5) noteError(`signature line ${i + 1}: signature is shorter than 5 bytes`);
    signatures.push({ name, keyId: raw.readUInt32BE(0), signature: Buffer.from(raw.subarray(4)) });
  }
  return { text, signatures };
}

export function formatSignedNote(note: SignedNote): string {
  checkText(note.text);
  if (note.signatures.length === 0) noteError('a signed note needs at least one signature');
  if (note.signatures.length > MAX_NOTE_SIGNATURES) noteError(`more than ${MAX_NOTE_SIGNATURES} signatures`);
  let out = note.text + '\n';
  for (const sig of note.signatures) {
    if (!isValidNoteName(sig.name)) noteError(`invalid key name ${JSON.stringify(sig.name)}`);
    if (!isUint32(sig.keyId)) noteError(`key ID of ${sig.name} is not a uint32`);
    if (sig.signature.length < 1) noteError(`empty signature by ${sig.name}`);
    const raw = Buffer.allocUnsafe(4 + sig.signature.length);
    raw.writeUInt32BE(sig.keyId, 0);
    raw.set(sig.signature, 4);
    out += `${SIG_PREFIX}${sig.name} ${raw.toString('base64')}\n`;
  }
  return out;
}

export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  const bytes = Buffer.from(text, 'utf8');
  return formatSignedNote({
    text,
    signatures: signers.map((s) => ({ name: s.name, keyId: s.keyId, signature: s.sign(bytes) })),
  });
}

/**
 * Verifies a note under the C2SP rules: a signature is known when both name and key ID match a
 * verifier; unknown signatures are ignored; any known signature that fails rejects the note; at
 * least one known signature must verify. `verifiedSignatures[i]` is the line `verifiedBy[i]`
 * accepted (callers read cosignature timestamps from it).
 */
export function openNote(
  note: string,
  verifiers: readonly NoteVerifier[],
): { text: string; verifiedBy: NoteVerifier[]; verifiedSignatures: NoteSignature[] } {
  const known = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const k = `${v.name}+${hex8(v.keyId)}`;
    if (known.has(k)) throw new VellumError('INVALID_ARGUMENT', `two verifiers for ${k}`);
    known.set(k, v);
  }
  const parsed = parseSignedNote(note);
  const textBytes = Buffer.from(parsed.text, 'utf8');
  const seen = new Set<string>();
  const verifiedBy: NoteVerifier[] = [];
  const verifiedSignatures: NoteSignature[] = [];
  for (const sig of parsed.signatures) {
    const k = `${sig.name}+${hex8(sig.keyId)}`;
    const v = known.get(k);
    if (!v || seen.has(k)) continue;
    seen.add(k);
    let ok = false;
    try {
      ok = v.verify(textBytes, sig.signature);
    } catch {
      ok = false;
    }
    if (!ok) noteError(`signature by known key ${k} does not verify`);
    verifiedBy.push(v);
    verifiedSignatures.push(sig);
  }
  if (verifiedBy.length === 0) noteError('note has no signature by a known key');
  return { text: parsed.text, verifiedBy, verifiedSignatures };
}

/**
 * The full hash behind a C2SP key ID: SHA-256(name ‖ 0x0A ‖ type ‖ publicKey). Rekor v2 publishes
 * all 32 bytes as the log ID of an Ed25519 log (TransparencyLogEntry.logId, TrustedRoot).
 */
export function c2spKeyHash(name: string, type: number, publicKey: Uint8Array): Buffer {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new VellumError('INVALID_ARGUMENT', `key type ${type} is not a byte`);
  }
  return createHash('sha256')
    .update(Buffer.from(name, 'utf8'))
    .update(Buffer.from([0x0a, type]))
    .update(publicKey)
    .digest();
}

/** C2SP recommended key ID: SHA-256(name ‖ 0x0A ‖ type ‖ publicKey)[:4], big-endian. */
export function c2spKeyId(name: string, type: number, publicKey: Uint8Array): number {
  return c2spKeyHash(name, type, publicKey).readUInt32BE(0);
}

/** Rekor v1 checkpoint hint and C2SP type 0x02 key ID: SHA-256(DER SPKI)[:4]. */
export function rekorKeyId(spkiDer: Uint8Array): number {
  return createHash('sha256').update(spkiDer).digest().readUInt32BE(0);
}

function cosignatureHeader(timestamp: number): Buffer {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `cosignature timestamp ${timestamp} is not a non-negative integer`,
    );
  }
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n`, 'utf8');
}

/** The bytes an Ed25519 cosigner signs: "cosignature/v1\ntime <t>\n" followed by the checkpoint text. */
export function cosignatureMessage(timestamp: number, checkpointText: string): Buffer {
  return Buffer.concat([cosignatureHeader(timestamp), Buffer.from(checkpointText, 'utf8')]);
}

/** Splits a type-0x04 signature (after the key ID): uint64 BE timestamp ‖ 64-byte Ed25519 signature. */
export function parseCosignature(signature: Uint8Array): { timestamp: number; signature: Buffer } {
  if (signature.length !== 72) noteError(`cosignature must be 72 bytes, got ${signature.length}`);
  const buf = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
  const ts = buf.readBigUInt64BE(0);
  // The spec bounds it by 2^63-1; a Number must stay exact, which bounds it far lower.
  if (ts > BigInt(Number.MAX_SAFE_INTEGER)) noteError('cosignature timestamp is out of range');
  return { timestamp: Number(ts), signature: Buffer.from(buf.subarray(8)) };
}

function ed25519FromRaw(raw: Uint8Array): LogPublicKey {
  if (raw.length !== 32)
    throw new VellumError('INVALID_KEY', `Ed25519 key must be 32 bytes, got ${raw.length}`);
  return LogPublicKey.fromDer(Buffer.concat([ED25519_SPKI_PREFIX, raw]));
}

function cosignatureVerifier(name: string, key: LogPublicKey, keyId: number): NoteVerifier {
  return {
    name,
    keyId,
    verify(text: Uint8Array, signature: Uint8Array): boolean {
      if (signature.length !== 72) return false;
      const { timestamp, signature: sig } = parseCosignature(signature);
      return key.verify(Buffer.concat([cosignatureHeader(timestamp), text]), sig);
    },
  };
}

/**
 * Parses "<name>+<8 lowercase hex key ID>+<base64(type ‖ key)>", splitting on the first two '+'
 * only (the base64 may contain '+'). The key ID must match the rule for the type. Types: 0x01
 * Ed25519, 0x02 ECDSA P-256 (SPKI), 0x04 Ed25519 cosignature/v1.
 */
export function parseVerifierKey(vkey: string): ParsedVerifierKey {
  if (typeof vkey !== 'string') vkeyError('not a string');
  const p1 = vkey.indexOf('+');
  const p2 = p1 < 0 ? -1 : vkey.indexOf('+', p1 + 1);
  if (p2 < 0) vkeyError('expected <name>+<key id>+<key>');
  const name = vkey.slice(0, p1);
  const idHex = vkey.slice(p1 + 1, p2);
  if (!isValidNoteName(name)) vkeyError(`invalid name ${JSON.stringify(name)}`);
  if (!/^[0-9a-f]{8}$/.test(idHex)) vkeyError('key ID must be 8 lowercase hex digits');
  let key: Buffer;
  try {
    key = decodeBase64Strict(vkey.slice(p2 + 1), 'verifier key');
  } catch {
    vkeyError('key is not valid standard base64');
  }
  if (key.length < 2) vkeyError('key is empty');
  const type = key[0]!;
  const publicKey = Buffer.from(key.subarray(1));
  const keyId = parseInt(idHex, 16);
  let expectedId: number;
  let verify: NoteVerifier['verify'];
  switch (type) {
    case NOTE_KEY_TYPE.ed25519: {
      const pk = ed25519FromRaw(publicKey);
      expectedId = c2spKeyId(name, type, publicKey);
      verify = (text, sig) => pk.verify(text, sig);
      break;
    }
    case NOTE_KEY_TYPE.ecdsa: {
      const pk = LogPublicKey.fromDer(publicKey);
      if (pk.algorithm !== 'ecdsa-p256') vkeyError('type 0x02 key is not ECDSA P-256');
      expectedId = rekorKeyId(publicKey);
      verify = (text, sig) => pk.verify(text, sig);
      break;
    }
    case NOTE_KEY_TYPE.cosignatureV1: {
      const pk = ed25519FromRaw(publicKey);
      expectedId = c2spKeyId(name, type, publicKey);
      verify = cosignatureVerifier(name, pk, keyId).verify;
      break;
    }
    default:
      vkeyError(`unsupported key type 0x${type.toString(16).padStart(2, '0')}`);
  }
  if (expectedId !== keyId)
    vkeyError(`key ID ${idHex} does not match the key (expected ${hex8(expectedId)})`);
  return { name, keyId, type, publicKey, vkey, verify };
}

export function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  if (!isValidNoteName(name))
    throw new VellumError('INVALID_KEY', `invalid key name ${JSON.stringify(name)}`);
  const keyId = type === NOTE_KEY_TYPE.ecdsa ? rekorKeyId(publicKey) : c2spKeyId(name, type, publicKey);
  const payload = Buffer.concat([Buffer.from([type]), publicKey]);
  return `${name}+${hex8(keyId)}+${payload.toString('base64')}`;
}

function requireEd25519(key: { algorithm: string }, what: string): void {
  if (key.algorithm !== 'ed25519') throw new VellumError('INVALID_KEY', `${what} needs an Ed25519 key`);
}

function requireName(name: string): void {
  if (!isValidNoteName(name)) noteError(`invalid key name ${JSON.stringify(name)}`);
}

/** C2SP type 0x01 signer (key ID from name + raw key). */
export function ed25519NoteSigner(name: string, key: LogSigningKey): NoteSigner {
  requireEd25519(key, 'ed25519NoteSigner');
  requireName(name);
  return {
    name,
    keyId: c2spKeyId(name, NOTE_KEY_TYPE.ed25519, key.publicKey.raw),
    sign: (text) => key.signDeterministic(text),
  };
}

export function ed25519NoteVerifier(name: string, key: LogPublicKey): NoteVerifier {
  requireEd25519(key, 'ed25519NoteVerifier');
  requireName(name);
  return {
    name,
    keyId: c2spKeyId(name, NOTE_KEY_TYPE.ed25519, key.raw),
    verify: (text, sig) => key.verify(text, sig),
  };
}

/**
 * A type 0x04 cosigner that stamps every signature with `timestamp` (POSIX seconds; the caller
 * supplies the clock, the core has none).
 */
export function ed25519CosignatureSigner(name: string, key: LogSigningKey, timestamp: number): NoteSigner {
  requireEd25519(key, 'ed25519CosignatureSigner');
  requireName(name);
  const header = cosignatureHeader(timestamp);
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(timestamp));
  return {
    name,
    keyId: c2spKeyId(name, NOTE_KEY_TYPE.cosignatureV1, key.publicKey.raw),
    sign: (text) => Buffer.concat([ts, key.signDeterministic(Buffer.concat([header, text]))]),
  };
}

export function ed25519CosignatureVerifier(name: string, key: LogPublicKey): NoteVerifier {
  requireEd25519(key, 'ed25519CosignatureVerifier');
  requireName(name);
  return cosignatureVerifier(name, key, c2spKeyId(name, NOTE_KEY_TYPE.cosignatureV1, key.raw));
}
