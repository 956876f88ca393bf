/**
 * The one DER reader at its boundaries (X.690 section 10): short/long length forms at 127/128 and
 * 255/256, non-minimal and indefinite lengths, trailing data, the depth limit, INTEGER and BOOLEAN
 * minimality, OID arcs and RFC 5280 times. Round trips are checked against the independent
 * encoder in test/support/x509-builder.ts, and fast-check drives random trees and random bytes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isVellumError } from '../../src/core/errors';
import {
  MAX_DER_DEPTH,
  checkDerTree,
  checkDerValue,
  children,
  decodeDerUtf8String,
  encodeUnsignedInteger,
  readBoolean,
  readInteger,
  readOid,
  readTime,
  readTlv,
  readWhole,
} from '../../src/core/asn1';
import { derLength, oid, seq, tlv } from '../support/x509-builder';

const invalidDer = (e: unknown): boolean => isVellumError(e, 'INVALID_DER');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('DER lengths', () => {
  for (const n of [0, 1, 127, 128, 255, 256, 65535, 65536]) {
    it(`a ${n}-byte value round-trips through the builder's minimal length`, () => {
      const enc = tlv(0x04, Buffer.alloc(n, 0xab));
      const t = readTlv(enc, 0);
      assert.equal(t.end - t.start, n);
      assert.equal(t.start, 1 + derLength(n).length);
      assert.equal(t.end, enc.length);
    });
  }

  it('the header sizes at the short/long boundary are 2, 3, 3, 4 bytes', () => {
    assert.deepEqual(
      [127, 128, 255, 256].map((n) => readTlv(tlv(0x04, Buffer.alloc(n)), 0).start),
      [2, 3, 3, 4],
    );
  });

  it('non-minimal lengths are refused', () => {
    const cases = [
      '04 81 05 0102030405', // long form for a length below 128
      '04 81 7f' + '00'.repeat(127), // 127 in long form
      '04 82 00 80' + '00'.repeat(128), // leading zero length byte
      '04 82 00 ff' + '00'.repeat(255),
    ];
    for (const c of cases) assert.throws(() => readTlv(hex(c), 0), invalidDer, c);
    // The same lengths in minimal form are accepted.
    readTlv(hex('04 81 80' + '00'.repeat(128)), 0);
    readTlv(hex('04 82 0100' + '00'.repeat(256)), 0);
  });

  it('indefinite length, more than four length bytes, truncation and multi-byte tags are refused', () => {
    for (const c of ['30 80 0000', '04 85 0000000001 00', '04 05 0102', '04', '04 82 01', '1f 01 00', '']) {
      assert.throws(() => readTlv(hex(c), 0), invalidDer, c);
    }
  });

  it('a child may not run past its parent', () => {
    // SEQUENCE of length 3 holding an OCTET STRING that claims 4 bytes.
    const buf = hex('30 03 04 04 01020304');
    assert.throws(() => children(buf, readTlv(buf, 0)), invalidDer);
  });
});

describe('whole encodings and depth', () => {
  it('trailing data after the one element is refused', () => {
    const ok = seq(tlv(0x02, Buffer.from([1])));
    readWhole(ok, 0x30, 'x');
    checkDerTree(ok);
    const trailing = Buffer.concat([ok, Buffer.from([0])]);
    assert.throws(() => readWhole(trailing, 0x30, 'x'), invalidDer);
    assert.throws(() => checkDerTree(trailing), invalidDer);
  });

  it(`nesting is allowed to depth ${MAX_DER_DEPTH} and refused beyond`, () => {
    const nest = (d: number): Buffer => {
      let b = tlv(0x05, Buffer.alloc(0));
      for (let i = 0; i < d; i++) b = seq(b);
      return b;
    };
    checkDerTree(nest(MAX_DER_DEPTH));
    assert.throws(() => checkDerTree(nest(MAX_DER_DEPTH + 1)), invalidDer);
    // 10,000 levels: refused without a stack overflow.
    assert.throws(() => checkDerTree(nest(10_000)), invalidDer);
  });

  it('constructed contents must be TLVs all the way down', () => {
    assert.throws(() => checkDerTree(seq(seq(Buffer.from([0x04, 0x05, 0x00])))), invalidDer);
    // A primitive OCTET STRING's content is opaque, whatever it holds.
    checkDerTree(seq(tlv(0x04, Buffer.from([0x30, 0x80]))));
  });
});

describe('INTEGER, BOOLEAN, OID, Time, UTF8String', () => {
  it('INTEGER: minimal two-s complement only', () => {
    const int = (h: string) => readInteger(hex(h), readTlv(hex(h), 0));
    assert.deepEqual(int('02 01 00').magnitude, Buffer.from([0]));
    assert.deepEqual(int('02 02 0080').magnitude, Buffer.from([0x80]));
    assert.equal(int('02 01 80').negative, true);
    for (const c of ['02 00', '02 02 0001', '02 02 ff80']) assert.throws(() => int(c), invalidDer, c);
  });

  it('INTEGER: fast-check round trip with the encoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (mag) => {
        const enc = encodeUnsignedInteger(mag);
        const got = readInteger(enc, readTlv(enc, 0));
        assert.equal(got.negative, false);
        assert.equal(
          BigInt('0x' + Buffer.from(got.magnitude).toString('hex')),
          BigInt('0x' + Buffer.from(mag).toString('hex')),
        );
      }),
    );
  });

  it('BOOLEAN: exactly 0x00 or 0xFF', () => {
    const b = (h: string) => readBoolean(hex(h), readTlv(hex(h), 0));
    assert.equal(b('01 01 ff'), true);
    assert.equal(b('01 01 00'), false);
    for (const c of ['01 01 01', '01 01 7f', '01 02 ffff', '01 00']) assert.throws(() => b(c), invalidDer, c);
  });

  it('OID: matches the builder for random arcs; non-minimal and truncated arcs are refused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 39 }),
        fc.array(fc.bigInt({ min: 0n, max: (1n << 70n) - 1n }), { maxLength: 8 }),
        (a, b, rest) => {
          const dotted = [a, b, ...rest].join('.');
          const enc = oid(dotted);
          assert.equal(readOid(enc, readTlv(enc, 0)), dotted);
        },
      ),
    );
    for (const c of ['06 00', '06 02 2a 80', '06 03 2a 80 01', '06 01 86']) {
      assert.throws(() => readOid(hex(c), readTlv(hex(c), 0)), invalidDer, c);
    }
  });

  it('Time: UTCTime and GeneralizedTime with seconds and Z only, fields in range', () => {
    const t = (tag: number, s: string) => {
      const enc = tlv(tag, Buffer.from(s, 'latin1'));
      return readTime(enc, readTlv(enc, 0));
    };
    assert.equal(t(0x17, '240229120000Z'), Date.UTC(2024, 1, 29, 12));
    assert.equal(t(0x17, '500101000000Z'), Date.UTC(1950, 0, 1));
    assert.equal(t(0x17, '491231235959Z'), Date.UTC(2049, 11, 31, 23, 59, 59));
    assert.equal(t(0x18, '20500101000000Z'), Date.UTC(2050, 0, 1));
    const bad: Array<[number, string]> = [
      [0x17, '230229120000Z'], // not a leap year
      [0x17, '241301000000Z'],
      [0x17, '240101240000Z'],
      [0x17, '2401011200Z'], // no seconds
      [0x17, '240101120000+0100'],
      [0x18, '20240101120000.5Z'],
      [0x18, '240101120000Z'],
      [0x0c, '240101120000Z'],
    ];
    for (const [tag, s] of bad) assert.throws(() => t(tag, s), invalidDer, s);
  });

  it('DER UTF8String: exactly one, valid UTF-8, nothing after', () => {
    assert.equal(decodeDerUtf8String(tlv(0x0c, Buffer.from('héllo')), 'x'), 'héllo');
    for (const b of [
      Buffer.concat([tlv(0x0c, Buffer.from('a')), Buffer.from([0])]),
      tlv(0x13, Buffer.from('a')),
      tlv(0x0c, Buffer.from([0xc3, 0x28])),
    ]) {
      assert.throws(() => decodeDerUtf8String(b, 'x'), invalidDer);
    }
  });
});

describe('checkDerValue: universal forms and contents, for an ANY', () => {
  const check = (b: Buffer): void => checkDerValue(b, readWhole(b, b[0]!, 'value'));
  it('accepts DER values, nested, and opaque context-specific primitives', () => {
    for (const h of [
      '0101ff',
      '020100',
      '0a0101',
      '0500',
      '06032a0304',
      '030100',
      '030206c0',
      '1e020041',
      '3000',
      '3106020100020101',
      '8003000102',
      'a1030101ff',
      '0c00',
    ])
      assert.doesNotThrow(() => check(hex(h)), h);
  });
  it('refuses BER forms, end-of-contents and bad contents, at any depth', () => {
    for (const h of [
      '010101', // BOOLEAN other than 00/ff
      '02020001', // padded INTEGER
      '0200', // empty INTEGER
      '0a020001', // padded ENUMERATED
      '050100', // NULL with content
      '06022a80', // truncated OID arc
      '0300', // BIT STRING without its unused-bits octet
      '030108', // unused bits on an empty BIT STRING
      '030201ff', // unused bits not zero
      '1e0100', // odd BMPString
      '1c03000000', // UniversalString not a multiple of 4
      '0000', // end-of-contents
      '1000', // primitive SEQUENCE
      '2403040100', // constructed OCTET STRING
      '3003020200', // a bad INTEGER inside a SEQUENCE
      'a1050203000001', // and inside a context-specific constructed element
    ])
      assert.throws(() => check(hex(h)), invalidDer, h);
  });
});

describe('random bytes', () => {
  it('the reader only ever returns in-bounds TLVs or throws INVALID_DER', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const buf = Buffer.from(bytes);
        try {
          const t = checkDerTree(buf);
          assert.ok(t.start <= t.end && t.end === buf.length);
        } catch (e) {
          assert.ok(invalidDer(e), String(e));
        }
      }),
      { numRuns: 5000 },
    );
  });
});
