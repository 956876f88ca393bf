/**
 * A small, strict DER reader for the parts of X.509 the monitor needs (extensions, SANs, SPKI).
 * Entry fields are hostile, so every read is bounds-checked and only DER is accepted: definite
 * lengths in minimal form, single-byte tags. Failures throw {@link DerError}, which the identity
 * extractor turns into a `malformed` reason; it never escapes the monitor module.
 */

export class DerError extends Error {
  override readonly name = 'DerError';
}

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export class DerReader {
  private pos: number;
  constructor(
    readonly buf: Buffer,
    start = 0,
    private readonly limit = buf.length,
  ) {
    this.pos = start;
  }

  static of(buf: Buffer, tlv: Tlv): DerReader {
    return new DerReader(buf, tlv.contentStart, tlv.end);
  }

  atEnd(): boolean {
    return this.pos >= this.limit;
  }

  peekTag(): number | undefined {
    return this.pos < this.limit ? this.buf[this.pos] : undefined;
  }

  read(what: string): Tlv {
    const start = this.pos;
    if (start >= this.limit) throw new DerError(`${what}: unexpected end of data`);
    const tag = this.buf[start]!;
    if ((tag & 0x1f) === 0x1f) throw new DerError(`${what}: multi-byte tags are not supported`);
    if (start + 1 >= this.limit) throw new DerError(`${what}: truncated length`);
    const first = this.buf[start + 1]!;
    let len: number;
    let p = start + 2;
    if (first < 0x80) {
      len = first;
    } else if (first === 0x80) {
      throw new DerError(`${what}: indefinite length is not DER`);
    } else {
      const n = first & 0x7f;
      if (n > 4) throw new DerError(`${what}: length too large`);
      if (p + n > this.limit) throw new DerError(`${what}: truncated length`);
      if (this.buf[p] === 0) throw new DerError(`${what}: non-minimal length encoding`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + this.buf[p + i]!;
      if (len < 0x80) throw new DerError(`${what}: non-minimal length encoding`);
      p += n;
    }
    if (p + len > this.limit) throw new DerError(`${what}: content runs past the end of its container`);
    this.pos = p + len;
    return { tag, start, contentStart: p, end: p + len };
  }

  readTag(tag: number, what: string): Tlv {
    const t = this.read(what);
    if (t.tag !== tag) {
      throw new DerError(`${what}: expected tag 0x${hex2(tag)}, found 0x${hex2(t.tag)}`);
    }
    return t;
  }

  /** Reads an optional element with the given tag; undefined (nothing consumed) otherwise. */
  readOptional(tag: number, what: string): Tlv | undefined {
    return this.peekTag() === tag ? this.read(what) : undefined;
  }

  expectEnd(what: string): void {
    if (!this.atEnd()) throw new DerError(`${what}: unexpected trailing data`);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

export function content(buf: Buffer, tlv: Tlv): Buffer {
  return buf.subarray(tlv.contentStart, tlv.end);
}

export function whole(buf: Buffer, tlv: Tlv): Buffer {
  return buf.subarray(tlv.start, tlv.end);
}

/** Decodes OBJECT IDENTIFIER content octets to dotted form (strict: minimal base-128 arcs). */
export function decodeOid(bytes: Buffer): string {
  if (bytes.length === 0) throw new DerError('OID: empty');
  if (bytes.length > 128) throw new DerError('OID: too long');
  const arcs: bigint[] = [];
  let acc = 0n;
  let started = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (!started && b === 0x80) throw new DerError('OID: non-minimal arc encoding');
    started = true;
    acc = (acc << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0n;
      started = false;
    }
  }
  if (started) throw new DerError('OID: truncated arc');
  const first = arcs[0]!;
  const out: bigint[] = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  for (let i = 1; i < arcs.length; i++) out.push(arcs[i]!);
  return out.join('.');
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 decode; throws DerError on invalid sequences. The BOM is kept, not stripped. */
export function decodeUtf8Strict(bytes: Uint8Array, what: string): string {
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    throw new DerError(`${what}: invalid UTF-8`);
  }
}

/** Strict IA5String (7-bit ASCII) decode. */
export function decodeIa5(bytes: Buffer, what: string): string {
  for (const b of bytes) if (b > 0x7f) throw new DerError(`${what}: non-ASCII byte in IA5String`);
  return bytes.toString('latin1');
}

/**
 * The content of `bytes` must be exactly one DER UTF8String TLV (tag 0x0C) and nothing else:
 * Fulcio's encoding for OIDs .1.8 and up. Wrong tags and trailing bytes are rejected.
 */
export function decodeDerUtf8String(bytes: Buffer, what: string): string {
  const r = new DerReader(bytes);
  const t = r.read(what);
  if (t.tag !== TAG.UTF8_STRING) {
    throw new DerError(`${what}: expected a DER UTF8String (tag 0x0c), found tag 0x${hex2(t.tag)}`);
  }
  r.expectEnd(`${what}: bytes after the UTF8String`);
  return decodeUtf8Strict(content(bytes, t), what);
}
