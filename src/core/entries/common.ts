/**
 * Shared plumbing for the entry kinds: error construction with Rekor's wording, a small
 * structural checker for the attacker-supplied JSON, Go-compatible base64 and hex decoding, and
 * the index-key helpers.
 *
 * Structural rules (all kinds, all depths of `spec`):
 *  - `null` means absent, as in Go (sigstore-python sends `"signatures": null` etc. for unset
 *    optional fields of a dsse entry);
 *  - a present value of the wrong JSON type is an error naming the field (Go would silently drop
 *    it, which would make "I sent X" and "the log stored Y" disagree);
 *  - an unknown property is an error naming the field (the canonical body is rebuilt from known
 *    fields only, so an unknown one could only ever be silently lost).
 */
import { createHash } from 'node:crypto';
import { VellumError, type ErrorCode } from '../errors';

/** Prefix of every handler-level entry error (Rekor `pkg/api/entries.go`). */
export const EPE = 'error processing entry: ';

export function entryError(code: ErrorCode, message: string): VellumError {
  return new VellumError(code, EPE + message);
}

export function invalidEntry(message: string): VellumError {
  return entryError('INVALID_ENTRY', message);
}

export function invalidSignature(message: string): VellumError {
  return entryError('INVALID_SIGNATURE', message);
}

/** go-openapi validation codes carried to the HTTP layer for 422 answers. */
export const API_CODE = {
  invalidType: 601,
  required: 602,
  pattern: 605,
  enum: 606,
  minItems: 612,
  forbidden: 616,
} as const;

/** A framework-level (HTTP 422) violation of the top-level ProposedEntry. */
export function schemaViolation(apiCode: number, message: string): VellumError {
  return new VellumError('SCHEMA_VIOLATION', message, { apiCode });
}

export type JsonObject = { readonly [k: string]: unknown };

export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Own property `k` of `o`, with JSON null folded into undefined. Never reads the prototype chain. */
export function field(o: JsonObject | undefined, k: string): unknown {
  if (o === undefined || !has(o, k)) return undefined;
  const v = o[k];
  return v === null ? undefined : v;
}

export type Shape =
  | { readonly t: 'string' }
  | { readonly t: 'array'; readonly items: Shape }
  | { readonly t: 'object'; readonly props: { readonly [k: string]: Shape } };

export const S = {
  string: { t: 'string' } as Shape,
  array: (items: Shape): Shape => ({ t: 'array', items }),
  object: (props: { readonly [k: string]: Shape }): Shape => ({ t: 'object', props }),
};

/** Rekor's `{algorithm, value}` hash object. */
export const HASH_SHAPE = S.object({ algorithm: S.string, value: S.string });

/** Makes the error for a structural problem at `path` (go-openapi wording, no prefix). */
export type ShapeErrorFactory = (apiCode: number, message: string) => VellumError;

/**
 * Checks `value` against `shape` (types and allowed property names, nulls allowed anywhere),
 * throwing on the first problem in document order. Presence of required fields is left to the
 * kinds, because Rekor reports those in its own order and words.
 */
export function checkShape(value: unknown, shape: Shape, path: string, err: ShapeErrorFactory): void {
  if (value === null || value === undefined) return;
  const actual = jsonTypeName(value);
  const expected = shape.t;
  if (actual !== expected) {
    throw err(API_CODE.invalidType, `${path} in body must be of type ${expected}: ${JSON.stringify(actual)}`);
  }
  if (shape.t === 'array') {
    const arr = value as readonly unknown[];
    for (let i = 0; i < arr.length; i++) checkShape(arr[i], shape.items, `${path}.${i}`, err);
  } else if (shape.t === 'object') {
    const obj = value as JsonObject;
    for (const k of Object.keys(obj)) {
      const sub = has(shape.props, k) ? shape.props[k] : undefined;
      const p = path === '' ? k : `${path}.${k}`;
      if (sub === undefined) throw err(API_CODE.forbidden, `${p} in body is a forbidden property`);
      checkShape(obj[k], sub, p, err);
    }
  }
}

/** Shape errors inside `spec` are handler-level (400) in Rekor. */
export const specShapeError: ShapeErrorFactory = (_code, message) => invalidEntry(message);

// ---------------------------------------------------------------------------------------------
// Go-compatible decoding
// ---------------------------------------------------------------------------------------------

const STD = /^[A-Za-z0-9+/]$/;
const URL = /^[A-Za-z0-9\-_]$/;

/**
 * Go `base64.StdEncoding.DecodeString` (or URLEncoding): padded, CR/LF ignored, non-zero trailing
 * bits tolerated. Returns the bytes or throws Error(`illegal base64 data at input byte N`), N being
 * the offset in the original string, like Go's CorruptInputError. Callers re-encode the bytes for
 * anything they store, so the leniency never reaches a canonical body.
 */
const STD_WHOLE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_WHOLE = /^(?:[A-Za-z0-9\-_]{4})*(?:[A-Za-z0-9\-_]{2}==|[A-Za-z0-9\-_]{3}=)?$/;

export function decodeGoBase64(s: string, url = false): Buffer {
  // Fast path for the common case (one line, well formed); the loop below is only for inputs
  // with line breaks and for locating the first bad byte.
  if ((url ? URL_WHOLE : STD_WHOLE).test(s)) return Buffer.from(s, url ? 'base64url' : 'base64');
  const alphabet = url ? URL : STD;
  const chars: string[] = [];
  const at: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\r' || c === '\n') continue;
    chars.push(c);
    at.push(i);
  }
  const n = chars.length;
  const bad = (k: number): Error =>
    new Error(`illegal base64 data at input byte ${k < n ? at[k] : s.length}`);
  let i = 0;
  quanta: while (i < n) {
    const start = i;
    for (let j = 0; j < 4; j++) {
      // Padding is mandatory: a quantum cut short is reported at its first byte, as Go does.
      if (i >= n) throw bad(start);
      const c = chars[i++]!;
      if (alphabet.test(c)) continue;
      if (c !== '=' || j < 2) throw bad(i - 1);
      // "xx==" or "xxx=", and nothing may follow the padding.
      if (j === 2) {
        if (i >= n) throw bad(n);
        if (chars[i] !== '=') throw bad(i - 1);
        i++;
      }
      if (i < n) throw bad(i);
      break quanta;
    }
  }
  let text = chars.join('');
  if (url) text = text.replace(/-/g, '+').replace(/_/g, '/');
  return Buffer.from(text, 'base64');
}

/**
 * A `format: byte` field: base64, decoded as Go does. Go's decoder skips empty strings entirely
 * ("no content"), so an empty string is undefined, like an absent field.
 */
export function decodeByteField(value: unknown, what: string): Buffer | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    return decodeGoBase64(value);
  } catch (e) {
    throw invalidEntry(`failed parsing base64 data for ${what}: ${(e as Error).message}`);
  }
}

/** Go `hex.DecodeString` over the UTF-8 bytes of `s`, with its error text. */
export function decodeGoHex(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  for (const b of bytes) {
    const ok = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
    if (!ok) {
      const u = 'U+' + b.toString(16).toUpperCase().padStart(4, '0');
      const printable = b >= 0x20 && b < 0x7f;
      throw new Error(`encoding/hex: invalid byte: ${u}${printable ? ` '${String.fromCharCode(b)}'` : ''}`);
    }
  }
  if (bytes.length % 2 !== 0) throw new Error('encoding/hex: odd length hex string');
  return Buffer.from(bytes.toString('latin1'), 'hex');
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Lowercased, de-duplicated, order-preserving (the search index is case-insensitive). */
export function finishIndexKeys(keys: readonly string[]): readonly string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const k of keys) {
    const l = k.toLowerCase();
    if (l === '' || seen.has(l)) continue;
    seen.add(l);
    out.push(l);
  }
  return Object.freeze(out);
}

const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/**
 * `<alg>:<digest>` for every in-toto statement subject and SLSA v0.2 predicate material, as
 * Rekor's dsse/intoto IndexKeys add them. The payload is the signer's own document: anything
 * that does not look like a statement simply contributes no keys.
 */
export function inTotoDigestKeys(payloadType: string, payload: Buffer): string[] {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) return [];
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch {
    return [];
  }
  if (!isObject(statement)) return [];
  const out: string[] = [];
  const addDigests = (items: unknown): void => {
    if (!Array.isArray(items)) return;
    for (const item of items) {
      const digest = isObject(item) ? field(item, 'digest') : undefined;
      if (!isObject(digest)) continue;
      for (const [alg, value] of Object.entries(digest)) {
        if (typeof value === 'string') out.push(`${alg}:${value}`);
      }
    }
  };
  addDigests(field(statement, 'subject'));
  const predicate = field(statement, 'predicate');
  if (isObject(predicate)) addDigests(field(predicate, 'materials'));
  return out;
}

/** DSSE pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'latin1'),
    type,
    Buffer.from(` ${payload.length} `, 'latin1'),
    payload,
  ]);
}

const HEX64 = /^[0-9a-fA-F]{64}$/;

/**
 * A `{algorithm, value}` SHA-256 hash object of dsse and intoto bodies. Rekor's schema lets any
 * string through as the value and stores it; a SHA-256 is 64 hex digits, and nothing longer or
 * stranger should become permanent log content. Absent is fine: insertion computes its own.
 */
export function validateHash(h: JsonObject | undefined, name: string): void {
  if (h === undefined) return;
  const alg = field(h, 'algorithm');
  if (alg === undefined) throw invalidEntry(`${name}.algorithm in body is required`);
  if (alg !== 'sha256') throw invalidEntry(`${name}.algorithm in body should be one of [sha256]`);
  const value = field(h, 'value');
  if (value === undefined) throw invalidEntry(`${name}.value in body is required`);
  if (!HEX64.test(value as string))
    throw invalidEntry(`${name}.value in body should match '^[0-9a-fA-F]{64}$'`);
}
