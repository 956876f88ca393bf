/**
 * A minimal, strict DER reader for the few structures the entry code must look inside itself:
 * ECDSA signatures (to tell DER from IEEE P1363 the way Go does), and certificate fields that
 * node:crypto does not expose faithfully (the embedded SPKI bytes, validity, SAN entries).
 *
 * Every input here is attacker-controlled. The reader never trusts a length: each TLV is bounds
 * checked against its parent, only definite minimal lengths are accepted, and tags above 30
 * (multi-byte tag numbers) are refused rather than parsed. Failures throw DerError, which callers
 * turn into their own domain error; nothing else may escape.
 */

export class DerError extends Error {}

export interface Tlv {
  /** The full identifier octet (class, constructed bit, tag number). */
  readonly tag: number;
  /** Offset of the first content byte in `buf`. */
  readonly start: number;
  /** Offset one past the last content byte. */
  readonly end: number;
  /** Offset one past this whole TLV (equals `end`). Kept separate for readability at call sites. */
  readonly next: number;
  /** Offset of the identifier octet: `buf.subarray(headerStart, next)` is the whole encoding. */
  readonly headerStart: number;
}

/** Reads one TLV at `offset`, which must lie before `limit`; the TLV must end at or before `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (offset < 0 || offset + 2 > limit || limit > buf.length) throw new DerError('truncated');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not supported');
  let p = offset + 1;
  const first = buf[p++]!;
  let len: number;
  if (first < 0x80) {
    len = first;
  } else {
    const n = first & 0x7f;
    // 0x80 is BER's indefinite length; more than 4 length bytes cannot describe anything we read.
    if (n === 0 || n > 4) throw new DerError('unsupported length encoding');
    if (p + n > limit) throw new DerError('truncated length');
    if (buf[p] === 0) throw new DerError('non-minimal length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
    if (len < 0x80) throw new DerError('non-minimal length');
  }
  const end = p + len;
  if (end > limit) throw new DerError('truncated value');
  return { tag, start: p, end, next: end, headerStart: offset };
}

/** The children of a constructed TLV, in order; the children must exactly fill it. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.start;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.next;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined || t.tag !== tag) throw new DerError(`expected ${what}`);
  return t;
}

/**
 * The value of a DER INTEGER as an unsigned big-endian magnitude, enforcing minimal two's
 * complement encoding. Negative values are reported via `negative` so callers can reject them.
 */
export function readInteger(buf: Uint8Array, t: Tlv): { negative: boolean; magnitude: Uint8Array } {
  if (t.tag !== 0x02) throw new DerError('expected INTEGER');
  const len = t.end - t.start;
  if (len === 0) throw new DerError('empty INTEGER');
  const b0 = buf[t.start]!;
  if (len > 1) {
    const b1 = buf[t.start + 1]!;
    if ((b0 === 0x00 && b1 < 0x80) || (b0 === 0xff && b1 >= 0x80)) throw new DerError('non-minimal INTEGER');
  }
  return {
    negative: b0 >= 0x80,
    magnitude: buf.subarray(b0 === 0x00 && len > 1 ? t.start + 1 : t.start, t.end),
  };
}

/** Dotted-decimal form of an OBJECT IDENTIFIER's content bytes. */
export function oidToString(buf: Uint8Array, t: Tlv): string {
  if (t.tag !== 0x06 || t.end === t.start) throw new DerError('expected OBJECT IDENTIFIER');
  const parts: number[] = [];
  let v = 0;
  let first = true;
  for (let i = t.start; i < t.end; i++) {
    const b = buf[i]!;
    if (v === 0 && b === 0x80) throw new DerError('non-minimal OID arc');
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large');
    if ((b & 0x80) === 0) {
      if (first) {
        const a = v < 40 ? 0 : v < 80 ? 1 : 2;
        parts.push(a, v - a * 40);
        first = false;
      } else {
        parts.push(v);
      }
      v = 0;
    }
  }
  if ((buf[t.end - 1]! & 0x80) !== 0) throw new DerError('truncated OID');
  return parts.join('.');
}

/** Minimal DER INTEGER (tag, length, content) for a non-negative big-endian magnitude. */
export function encodeUnsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let body = Buffer.from(magnitude.subarray(i));
  if (body.length === 0) body = Buffer.from([0]);
  if (body[0]! >= 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02]), encodeLength(body.length), body]);
}

export function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function encodeSequence(...parts: Uint8Array[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([0x30]), encodeLength(body.length), body]);
}
