/**
 * Mutations of DER encodings for parser fuzzing: byte flips, truncations, and edits of one TLV's
 * length field (off by one, a non-minimal long form, BER's indefinite form). The TLV headers are
 * found by this file's own walk, not by the parser under test.
 */
import fc from 'fast-check';

interface Header {
  readonly at: number;
  readonly headerLen: number;
  readonly len: number;
}

function walk(buf: Buffer, start: number, end: number, out: Header[], depth: number): void {
  let p = start;
  while (p + 2 <= end && depth < 40) {
    const tag = buf[p]!;
    const first = buf[p + 1]!;
    let len = first;
    let hl = 2;
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n === 0 || n > 4 || p + 2 + n > end) return;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[p + 2 + i]!;
      hl = 2 + n;
    }
    if (p + hl + len > end) return;
    out.push({ at: p, headerLen: hl, len });
    if (tag & 0x20) walk(buf, p + hl, p + hl + len, out, depth + 1);
    p += hl + len;
  }
}

export function tlvHeaders(buf: Buffer): Header[] {
  const out: Header[] = [];
  walk(buf, 0, buf.length, out, 0);
  return out;
}

function lengthBytes(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const b: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) b.unshift(v & 0xff);
  return Buffer.from([0x80 | b.length, ...b]);
}

export type Mutation =
  | { kind: 'flip'; pos: number; xor: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'length'; header: number; edit: 'inc' | 'dec' | 'long' | 'indefinite' };

export function applyMutation(der: Buffer, m: Mutation): Buffer {
  if (m.kind === 'flip') {
    const out = Buffer.from(der);
    const pos = m.pos % der.length;
    out[pos] = out[pos]! ^ (m.xor || 1);
    return out;
  }
  if (m.kind === 'truncate') return der.subarray(0, m.keep % der.length);
  const headers = tlvHeaders(der);
  const h = headers[m.header % headers.length]!;
  const before = der.subarray(0, h.at + 1);
  const body = der.subarray(h.at + h.headerLen, h.at + h.headerLen + h.len);
  const after = der.subarray(h.at + h.headerLen + h.len);
  let len: Buffer;
  let tail = Buffer.alloc(0);
  switch (m.edit) {
    case 'inc':
      len = lengthBytes(h.len + 1);
      break;
    case 'dec':
      len = lengthBytes(Math.max(0, h.len - 1));
      break;
    case 'long': {
      // One more length byte than needed: 81 05 for 5, 82 00 80 for 128.
      const minimal = lengthBytes(h.len);
      const digits = h.len < 0x80 ? minimal : minimal.subarray(1);
      len = Buffer.concat([
        Buffer.from([0x80 | (digits.length + (h.len < 0x80 ? 0 : 1))]),
        h.len < 0x80 ? Buffer.alloc(0) : Buffer.from([0]),
        digits,
      ]);
      break;
    }
    case 'indefinite':
      len = Buffer.from([0x80]);
      tail = Buffer.from([0, 0]);
      break;
  }
  return Buffer.concat([before, len, body, tail, after]);
}

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant('length' as const),
    header: fc.nat(),
    edit: fc.constantFrom('inc' as const, 'dec' as const, 'long' as const, 'indefinite' as const),
  }),
);
