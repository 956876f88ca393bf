/**
 * Strict byte-encoding helpers shared by the core. "Strict" means there is exactly one accepted
 * spelling for each byte string: the same bytes always round-trip to the same text. That matters
 * because entry bodies, SET payloads and signed notes are compared and hashed as text.
 */
import { VellumError } from './errors';

// Standard alphabet, padded to a multiple of four. Non-zero trailing bits in the last quantum are
// caught afterwards by the re-encode comparison (Node's decoder silently drops them).
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes RFC 4648 §4 base64 with padding. Rejects whitespace, the URL-safe alphabet, missing or
 * extra padding and non-canonical trailing bits, so `decode(s).toString('base64') === s` always.
 * The empty string decodes to zero bytes; callers check lengths.
 */
export function decodeBase64Strict(s: string, what: string): Buffer {
  if (typeof s !== 'string') {
    throw new VellumError('INVALID_ARGUMENT', `${what}: expected a base64 string`);
  }
  if (!BASE64_RE.test(s)) {
    throw new VellumError('INVALID_ARGUMENT', `${what}: not valid standard base64 (with padding)`);
  }
  const out = Buffer.from(s, 'base64');
  if (out.toString('base64') !== s) {
    throw new VellumError('INVALID_ARGUMENT', `${what}: non-canonical base64 (non-zero padding bits)`);
  }
  return out;
}

/** True when `s` is only syntactically valid standard padded base64 (no decoding, O(n) regex). */
export function isBase64Strict(s: string): boolean {
  if (typeof s !== 'string' || !BASE64_RE.test(s)) return false;
  // Only the last quantum can carry non-canonical bits; checking it alone keeps large bodies cheap.
  const tail = s.slice(-4);
  return tail.length === 0 || Buffer.from(tail, 'base64').toString('base64') === tail;
}

const LOWER_HEX_RE = /^(?:[0-9a-f]{2})+$/;

/**
 * Lowercase hex with an even number of digits. With `bytes`, the decoded length must equal it.
 * The empty string only counts as hex when `bytes === 0`: an absent hex field is never "valid".
 */
export function isLowerHex(s: string, bytes?: number): boolean {
  if (typeof s !== 'string') return false;
  if (bytes !== undefined) {
    if (!Number.isSafeInteger(bytes) || bytes < 0 || s.length !== bytes * 2) return false;
    if (bytes === 0) return true;
  }
  return LOWER_HEX_RE.test(s);
}

const PEM_TYPE_RE = /^[A-Z0-9]+(?: [A-Z0-9]+)*$/;

/** Go `pem.Encode` layout: BEGIN line, base64 in 64-character lines, END line, final "\n". */
export function pemEncode(type: string, der: Uint8Array): string {
  if (!PEM_TYPE_RE.test(type)) {
    throw new VellumError('INVALID_ARGUMENT', `PEM type ${JSON.stringify(type)} is not valid`);
  }
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let out = `-----BEGIN ${type}-----\n`;
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + '\n';
  return out + `-----END ${type}-----\n`;
}

/**
 * Decodes every PEM block in `text` (surrounding whitespace trimmed). Between blocks only
 * whitespace is allowed; inside a block only base64 lines (any length, LF or CRLF endings). RFC 1421
 * headers ("Proc-Type: ...", i.e. legacy encrypted keys) are rejected rather than skipped, and so is
 * text with no block at all: a caller that forgets to check the count still fails closed.
 */
export function pemDecodeAll(text: string): Array<{ type: string; der: Buffer }> {
  if (typeof text !== 'string') throw new VellumError('INVALID_ARGUMENT', 'PEM: expected a string');
  const lines = text.trim().split(/\r?\n/);
  const blocks: Array<{ type: string; der: Buffer }> = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    const begin = /^-----BEGIN (.+)-----$/.exec(line);
    if (!begin || !PEM_TYPE_RE.test(begin[1]!)) {
      throw new VellumError('INVALID_ARGUMENT', `PEM: unexpected text on line ${i + 1}`);
    }
    const type = begin[1]!;
    const endLine = `-----END ${type}-----`;
    let body = '';
    i++;
    for (;;) {
      if (i >= lines.length) throw new VellumError('INVALID_ARGUMENT', `PEM: missing "${endLine}"`);
      const l = lines[i]!;
      i++;
      if (l === endLine) break;
      if (!/^[A-Za-z0-9+/=]+$/.test(l)) {
        throw new VellumError('INVALID_ARGUMENT', `PEM: invalid line ${i} inside the ${type} block`);
      }
      body += l;
    }
    const der = decodeBase64Strict(body, `PEM ${type} block`);
    if (der.length === 0) throw new VellumError('INVALID_ARGUMENT', `PEM: empty ${type} block`);
    blocks.push({ type, der });
  }
  if (blocks.length === 0) throw new VellumError('INVALID_ARGUMENT', 'PEM: no PEM block found');
  return blocks;
}

const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True when `s` has no lone UTF-16 surrogate, i.e. it is exactly representable as UTF-8. Text that
 * fails this would be silently rewritten to U+FFFD by Buffer.from, so signed bytes would differ.
 */
export function isWellFormedUnicode(s: string): boolean {
  return !LONE_SURROGATE_RE.test(s);
}
