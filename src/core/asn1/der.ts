/**
 * The one DER reader (ITU-T X.690, Distinguished Encoding Rules) for every attacker-controlled
 * ASN.1 structure Vellum looks inside: certificates, public keys, ECDSA signatures.
 *
 * Nothing here trusts a length. Every TLV is bounds checked against its parent, and only the
 * unique DER form is accepted: definite lengths in minimal form (no 0x80 indefinite length, no
 * leading zero length bytes, no long form below 128), single-byte tag numbers, no trailing bytes
 * where a caller asks for a whole encoding, nesting bounded by MAX_DER_DEPTH. Every failure is a
 * VellumError with code INVALID_DER; callers that need another code or Go's wording catch it with
 * `isVellumError(e, 'INVALID_DER')`.
 */
import { VellumError } from '../errors';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Deep enough for any certificate (about 8 levels), shallow enough to bound hostile recursion. */
export const MAX_DER_DEPTH = 32;
/** Longest OBJECT IDENTIFIER content accepted; real ones are under 40 bytes. */
export const MAX_OID_BYTES = 128;

export interface Tlv {
  /** The identifier octet (class, constructed bit, tag number). */
  readonly tag: number;
  /** Offset of the identifier octet: `buf.subarray(headerStart, end)` is the whole encoding. */
  readonly headerStart: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset one past the last content byte (and so past the whole TLV). */
  readonly end: number;
}

export function derError(message: string): VellumError {
  return new VellumError('INVALID_DER', message);
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** Reads one TLV at `offset`; it must end at or before `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (limit > buf.length || offset < 0 || offset >= limit) throw derError('unexpected end of data');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw derError('multi-byte tags are not supported');
  if (offset + 1 >= limit) throw derError('truncated length');
  const first = buf[offset + 1]!;
  let p = offset + 2;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else if (first === 0x80) {
    throw derError('indefinite length is not DER');
  } else {
    const n = first & 0x7f;
    // Four length bytes already describe 4 GiB; nothing Vellum reads comes close.
    if (n > 4) throw derError('length too large');
    if (p + n > limit) throw derError('truncated length');
    if (buf[p] === 0) throw derError('non-minimal length encoding');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (len < 0x80) throw derError('non-minimal length encoding');
    p += n;
  }
  if (p + len > limit) throw derError('content runs past the end of its container');
  return { tag, headerStart: offset, start: p, end: p + len };
}

/** The single TLV that is all of `buf`: bytes after it are refused. */
export function readWhole(buf: Uint8Array, tag: number, what: string): Tlv {
  const t = expectTag(readTlv(buf, 0), tag, what);
  if (t.end !== buf.length) throw derError(`${what}: unexpected trailing data`);
  return t;
}

/** The children of a constructed TLV, in order; they must exactly fill it. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end;) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined) throw derError(`${what}: missing`);
  if (t.tag !== tag) throw derError(`${what}: expected tag 0x${hex2(tag)}, found 0x${hex2(t.tag)}`);
  return t;
}

/**
 * Checks that `buf` is exactly one DER element whose constructed parts, recursively, are DER too,
 * at most `maxDepth` levels deep. Primitive contents (OCTET STRING, BIT STRING) are opaque here.
 */
export function checkDerTree(buf: Uint8Array, maxDepth: number = MAX_DER_DEPTH): Tlv {
  const top = readTlv(buf, 0);
  if (top.end !== buf.length) throw derError('unexpected trailing data');
  const walk = (t: Tlv, depth: number): void => {
    if ((t.tag & 0x20) === 0) return;
    if (depth >= maxDepth) throw derError(`nesting deeper than ${maxDepth}`);
    for (const c of children(buf, t)) walk(c, depth + 1);
  };
  walk(top, 0);
  return top;
}

/** Universal types whose DER form is constructed: EXTERNAL, EMBEDDED PDV, SEQUENCE, SET, CHARACTER STRING. */
const CONSTRUCTED_UNIVERSAL = new Set([0x08, 0x0b, 0x10, 0x11, 0x1d]);

/** Content rules of the universal primitive types whose encoding is more than a string of octets. */
function checkUniversalContent(buf: Uint8Array, t: Tlv): void {
  const len = t.end - t.start;
  switch (t.tag) {
    case TAG.BOOLEAN:
      readBoolean(buf, t);
      break;
    case TAG.INTEGER:
    case 0x0a: // ENUMERATED is encoded as an INTEGER
      readInteger(buf, { ...t, tag: TAG.INTEGER });
      break;
    case TAG.BIT_STRING: {
      const unused = buf[t.start];
      // X.690 11.2.1: the unused bits of the last octet are zero in DER.
      if (unused === undefined || unused > 7 || (len === 1 && unused !== 0))
        throw derError('BIT STRING: bad unused-bits octet');
      if ((buf[t.end - 1]! & ((1 << unused) - 1)) !== 0) throw derError('BIT STRING: unused bits not zero');
      break;
    }
    case TAG.NULL:
      if (len !== 0) throw derError('NULL: not empty');
      break;
    case TAG.OID:
      readOid(buf, t);
      break;
    case 0x1c: // UniversalString: UCS-4
      if (len % 4 !== 0) throw derError('UniversalString: truncated character');
      break;
    case 0x1e: // BMPString: UCS-2
      if (len % 2 !== 0) throw derError('BMPString: truncated character');
      break;
  }
}

/**
 * Checks that `t` and everything inside it is DER as far as its universal types tell: each has
 * its DER form (strings are never constructed, SEQUENCE and SET always are; no end-of-contents
 * octets), and BOOLEAN, INTEGER, ENUMERATED, BIT STRING, NULL, OBJECT IDENTIFIER, UniversalString
 * and BMPString contents follow their rules. For an ANY no schema describes: OpenSSL decodes
 * these contents while it parses one, and refuses the structure holding a bad one. Primitive
 * elements of other classes (IMPLICIT tags) stay opaque; string contents are not decoded.
 */
export function checkDerValue(buf: Uint8Array, t: Tlv, maxDepth: number = MAX_DER_DEPTH): void {
  const walk = (e: Tlv, depth: number): void => {
    const constructed = (e.tag & 0x20) !== 0;
    if ((e.tag & 0xc0) === 0) {
      const n = e.tag & 0x1f;
      if (n === 0) throw derError('end-of-contents octets are not DER');
      if (constructed !== CONSTRUCTED_UNIVERSAL.has(n))
        throw derError(`universal type ${n}: ${constructed ? 'constructed' : 'primitive'} form is not DER`);
      if (!constructed) checkUniversalContent(buf, e);
    }
    if (!constructed) return;
    if (depth >= maxDepth) throw derError(`nesting deeper than ${maxDepth}`);
    for (const c of children(buf, e)) walk(c, depth + 1);
  };
  walk(t, 0);
}

export function content(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);
}

export function whole(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.headerStart, t.end - t.headerStart);
}

/**
 * A DER INTEGER as an unsigned big-endian magnitude (the sign byte dropped), enforcing minimal
 * two's complement encoding. Negative values are reported, not refused: serials may be negative.
 */
export function readInteger(buf: Uint8Array, t: Tlv): { negative: boolean; magnitude: Buffer } {
  expectTag(t, TAG.INTEGER, 'INTEGER');
  const len = t.end - t.start;
  if (len === 0) throw derError('INTEGER: empty');
  const b0 = buf[t.start]!;
  if (len > 1) {
    const b1 = buf[t.start + 1]!;
    if ((b0 === 0x00 && b1 < 0x80) || (b0 === 0xff && b1 >= 0x80)) throw derError('INTEGER: non-minimal');
  }
  const skip = b0 === 0x00 && len > 1 ? 1 : 0;
  return { negative: b0 >= 0x80, magnitude: content(buf, { ...t, start: t.start + skip }) };
}

/** DER BOOLEAN: exactly one byte, 0x00 or 0xFF. */
export function readBoolean(buf: Uint8Array, t: Tlv): boolean {
  expectTag(t, TAG.BOOLEAN, 'BOOLEAN');
  const v = buf[t.start];
  if (t.end - t.start !== 1 || (v !== 0x00 && v !== 0xff)) throw derError('BOOLEAN: not 0x00 or 0xFF');
  return v === 0xff;
}

/** Dotted-decimal OBJECT IDENTIFIER, with minimal base-128 arcs (no leading 0x80 byte). */
export function readOid(buf: Uint8Array, t: Tlv): string {
  expectTag(t, TAG.OID, 'OBJECT IDENTIFIER');
  const len = t.end - t.start;
  if (len === 0) throw derError('OID: empty');
  if (len > MAX_OID_BYTES) throw derError('OID: too long');
  // Arcs are read as numbers while they stay exact (below 2^46 before the next shift), and
  // as bigints beyond: UUID arcs (2.25.N) run to 128 bits.
  const arcs: Array<number | bigint> = [];
  let acc: number | bigint = 0;
  let inArc = false;
  for (let i = t.start; i < t.end; i++) {
    const b = buf[i]!;
    if (!inArc && b === 0x80) throw derError('OID: non-minimal arc encoding');
    inArc = true;
    if (typeof acc === 'number' && acc < 2 ** 46) acc = acc * 128 + (b & 0x7f);
    else acc = (BigInt(acc) << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
      inArc = false;
    }
  }
  if (inArc) throw derError('OID: truncated arc');
  const first = arcs[0]!;
  const top = first < 40 ? 0 : first < 80 ? 1 : 2;
  const second = typeof first === 'number' ? first - top * 40 : first - BigInt(top * 40);
  const out: Array<number | bigint> = [top, second];
  for (let i = 1; i < arcs.length; i++) out.push(arcs[i]!);
  return out.join('.');
}

const UTC_TIME_RE = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME_RE = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/**
 * RFC 5280 Time as milliseconds since the epoch: UTCTime YYMMDDHHMMSSZ (years 1950-2049) or
 * GeneralizedTime YYYYMMDDHHMMSSZ, seconds present, no fraction, no offset, every field in range.
 */
export function readTime(buf: Uint8Array, t: Tlv): number {
  const s = Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === TAG.UTC_TIME) {
    m = UTC_TIME_RE.exec(s);
    if (!m) throw derError('UTCTime: not YYMMDDHHMMSSZ');
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === TAG.GENERALIZED_TIME) {
    m = GENERALIZED_TIME_RE.exec(s);
    if (!m) throw derError('GeneralizedTime: not YYYYMMDDHHMMSSZ');
    year = Number(m[1]);
  } else {
    throw derError(`Time: expected UTCTime or GeneralizedTime, found tag 0x${hex2(t.tag)}`);
  }
  const [mo, d, h, mi, se] = [2, 3, 4, 5, 6].map((i) => Number(m![i])) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  // Date.UTC would silently roll 31 February into March.
  if (days === undefined || d < 1 || d > days || h > 23 || mi > 59 || se > 59) {
    throw derError('Time: field out of range');
  }
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  return ms;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 (no replacement characters); a BOM is kept, not stripped. */
export function decodeUtf8Strict(bytes: Uint8Array, what: string): string {
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    throw derError(`${what}: invalid UTF-8`);
  }
}

/** IA5String content: 7-bit ASCII only. */
export function decodeIa5(bytes: Buffer, what: string): string {
  for (const b of bytes) if (b > 0x7f) throw derError(`${what}: non-ASCII byte in IA5String`);
  return bytes.toString('latin1');
}

/** `bytes` must be exactly one DER UTF8String TLV and nothing else. */
export function decodeDerUtf8String(bytes: Buffer, what: string): string {
  const t = readTlv(bytes, 0);
  if (t.tag !== TAG.UTF8_STRING) {
    throw derError(`${what}: expected a DER UTF8String (tag 0x0c), found tag 0x${hex2(t.tag)}`);
  }
  if (t.end !== bytes.length) throw derError(`${what}: trailing data after the UTF8String`);
  return decodeUtf8Strict(content(bytes, t), what);
}
