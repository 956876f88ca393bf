/**
 * GeneralName structure (RFC 5280 section 4.2.1.6), each choice checked for its own ASN.1 type,
 * at least as strictly as OpenSSL: when OpenSSL cannot decode one name it drops the whole
 * subjectAltName and calls the certificate no CA, so a name we let through that OpenSSL refuses is
 * a disagreement. Every case is also fed to OpenSSL (node:crypto) to pin down which side is which.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { isVellumError } from '../../src/core/errors';
import {
  OID_SAN,
  checkSpkiStructure,
  parseCertificate,
  parseGeneralNames,
  parseVerificationMaterial,
} from '../../src/core/x509';
import {
  bitString,
  buildCertificate,
  explicit,
  integer,
  name,
  oid,
  pem,
  seq,
  set,
  tlv,
  utf8String,
} from '../support/x509-builder';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');
const invalidDer = (e: unknown): boolean => isVellumError(e, 'INVALID_DER');
const printable = (s: string): Buffer => tlv(0x13, Buffer.from(s));
const otherName = (value: Buffer, extra: Buffer = Buffer.alloc(0)): Buffer =>
  tlv(0xa0, Buffer.concat([oid('1.2.3.4'), explicit(0, value), extra]));

/** OpenSSL's view: whether it decodes the SAN extension, and whether it then calls the certificate a CA. */
function openssl(der: Buffer): { san: boolean; ca: boolean } {
  const x = new X509Certificate(der);
  return { san: x.subjectAltName !== undefined && x.subjectAltName !== null, ca: x.ca };
}

function oursAccepts(der: Buffer): boolean {
  const ext = parseCertificate(der).extensions.find((e) => e.oid === OID_SAN)!;
  try {
    parseGeneralNames(ext.value);
    return true;
  } catch (e) {
    assert.ok(invalidDer(e), String(e));
    return false;
  }
}

// [label, GeneralName, we accept, OpenSSL accepts]. Where only OpenSSL accepts, the name breaks
// DER or RFC 5280's type for the choice, which OpenSSL leaves unchecked.
const CASES: ReadonlyArray<[string, Buffer, boolean, boolean]> = [
  ['ediPartyName with partyName', tlv(0xa5, explicit(1, utf8String('party'))), true, true],
  [
    'ediPartyName with both',
    tlv(0xa5, Buffer.concat([explicit(0, printable('a')), explicit(1, printable('p'))])),
    true,
    true,
  ],
  ['ediPartyName empty', tlv(0xa5, Buffer.alloc(0)), false, false],
  ['ediPartyName nameAssigner only', tlv(0xa5, explicit(0, printable('a'))), false, false],
  ['ediPartyName raw text inside', tlv(0xa5, Buffer.from('n.-11-0.example')), false, false],
  ['ediPartyName IA5String party', tlv(0xa5, explicit(1, tlv(0x16, Buffer.from('x')))), false, false],
  [
    'ediPartyName two strings in [1]',
    tlv(0xa5, explicit(1, Buffer.concat([printable('a'), printable('b')]))),
    false,
    false,
  ],
  [
    'ediPartyName fields swapped',
    tlv(0xa5, Buffer.concat([explicit(1, printable('a')), explicit(0, printable('b'))])),
    false,
    false,
  ],
  ['ediPartyName IMPLICIT partyName', tlv(0xa5, tlv(0x81, Buffer.from('a'))), false, false],
  ['ediPartyName odd BMPString', tlv(0xa5, explicit(1, tlv(0x1e, hex('004100')))), false, false],
  ['ediPartyName invalid UTF-8', tlv(0xa5, explicit(1, tlv(0x0c, hex('c3')))), false, true],
  ['ediPartyName constructed string', tlv(0xa5, explicit(1, tlv(0x33, printable('a')))), false, true],
  [
    'x400Address ORAddress outline',
    tlv(0xa3, Buffer.concat([seq(), seq(seq(printable('t'), printable('v')))])),
    true,
    true,
  ],
  ['x400Address empty', tlv(0xa3, Buffer.alloc(0)), false, true],
  ['x400Address not TLVs', tlv(0xa3, Buffer.from('abc')), false, true],
  ['x400Address an INTEGER', tlv(0xa3, integer(1)), false, true],
  ['x400Address empty extension-attributes', tlv(0xa3, Buffer.concat([seq(), set()])), false, true],
  ['registeredID', tlv(0x88, hex('2a03')), true, true],
  ['registeredID empty', tlv(0x88, Buffer.alloc(0)), false, false],
  ['registeredID truncated arc', tlv(0x88, hex('2a80')), false, false],
  ['registeredID non-minimal arc', tlv(0x88, hex('2a8001')), false, false],
  ['directoryName', tlv(0xa4, name('x')), true, true],
  ['directoryName bad attribute', tlv(0xa4, seq(hex('0000'))), false, false],
  ['otherName UTF8String', otherName(utf8String('x')), true, true],
  ['otherName invalid UTF-8 (a value, left to callers)', otherName(tlv(0x0c, hex('ff'))), true, true],
  ['otherName context-specific value', otherName(tlv(0x80, hex('0001'))), true, true],
  ['otherName trailing byte in [0]', otherName(Buffer.concat([utf8String('x'), hex('00')])), false, false],
  ['otherName two values', otherName(Buffer.concat([utf8String('x'), utf8String('y')])), false, false],
  ['otherName empty [0]', otherName(Buffer.alloc(0)), false, false],
  ['otherName no value', tlv(0xa0, oid('1.2.3.4')), false, false],
  ['otherName field after the value', otherName(utf8String('x'), utf8String('z')), false, false],
  [
    'otherName IMPLICIT value',
    tlv(0xa0, Buffer.concat([oid('1.2.3.4'), tlv(0x80, utf8String('x'))])),
    false,
    false,
  ],
  [
    'otherName empty type-id',
    tlv(0xa0, Buffer.concat([tlv(0x06, Buffer.alloc(0)), explicit(0, utf8String('x'))])),
    false,
    false,
  ],
  ['otherName BOOLEAN of two bytes', otherName(tlv(0x01, hex('0000'))), false, false],
  ['otherName BOOLEAN 0x01', otherName(tlv(0x01, hex('01'))), false, true],
  ['otherName NULL with content', otherName(tlv(0x05, hex('00'))), false, false],
  ['otherName empty INTEGER', otherName(tlv(0x02, Buffer.alloc(0))), false, false],
  ['otherName padded INTEGER', otherName(tlv(0x02, hex('0001'))), false, false],
  ['otherName padded ENUMERATED', otherName(tlv(0x0a, hex('0001'))), false, false],
  ['otherName bad OID', otherName(tlv(0x06, hex('2a80'))), false, false],
  ['otherName BIT STRING 8 unused bits', otherName(tlv(0x03, hex('08ff'))), false, false],
  ['otherName BIT STRING unused bits set', otherName(tlv(0x03, hex('01ff'))), false, true],
  ['otherName odd BMPString', otherName(tlv(0x1e, hex('00'))), false, false],
  ['otherName primitive SEQUENCE', otherName(tlv(0x10, hex('00'))), false, false],
  ['otherName constructed BOOLEAN', otherName(tlv(0x21, tlv(0x01, hex('ff')))), false, false],
  ['otherName constructed OCTET STRING', otherName(tlv(0x24, tlv(0x04, hex('ff')))), false, true],
  ['otherName end-of-contents', otherName(tlv(0x00, Buffer.alloc(0))), false, true],
  ['otherName SEQUENCE holding a padded INTEGER', otherName(seq(tlv(0x02, hex('0001')))), false, true],
  ['iPAddress of 3 bytes (a value, left to callers)', tlv(0x87, hex('010203')), true, true],
  ['dNSName non-ASCII (a value, left to callers)', tlv(0x82, hex('c3a9')), true, true],
  ['constructed dNSName (BER)', tlv(0xa2, Buffer.alloc(0)), false, true],
];

describe('GeneralName choices against OpenSSL', () => {
  for (const [label, gn, ours, theirs] of CASES) {
    it(`${label}: ours ${ours ? 'accepts' : 'refuses'}, OpenSSL ${theirs ? 'accepts' : 'refuses'}`, () => {
      const { der } = buildCertificate({
        ca: true,
        sans: [{ dns: 'first.example' }, { rawGeneralName: gn }],
      });
      assert.equal(oursAccepts(der), ours);
      assert.deepEqual(openssl(der), { san: theirs, ca: theirs });
    });
  }

  it('the seed -14074090 mutant: a dNSName turned ediPartyName with junk inside refuses the certificate', () => {
    // One flipped byte (0x82 ^ 0x27 = 0xa5) in a random CA certificate of the oracle test.
    const mutant = hex(`
      3082014d3081f4a0030201020210314b1512cae3c33fc28580266ecf50da300a06082a8648ce3d04030230143112
      301006035504030c096f7261636c65204341301e170d3730303130313030303030305a170d313830313331313033
      3635305a30123110300e06035504030c07382d2d2e346a2e302a300506032b65700321008b8000d480acfd7fcc5e
      aa47d1a703eeff3dc7d179f84fa8fd84fa2565d7ecd6a3593057300f0603551d130101ff040530030101ff304406
      03551d110101ff043a3038a50f6e2e2d31312d302e6578616d706c658113383766622e2e2e406578616d706c652e
      636f6d871056d7214d1f4049311cf0593366e88fb5300a06082a8648ce3d040302034800304502201edeca427f9c
      9ec0a35b2eec8f4a8dd43c7e549d54b75a6f94cee3995884a618022100cad59a90f0b8aaa4e07cefcec3a9ad27e2
      7d3f5da8c07cc73d6062263ef190d8`);
    const x = new X509Certificate(mutant);
    assert.equal(x.subjectAltName ?? undefined, undefined);
    assert.equal(x.ca, false);
    const cert = parseCertificate(mutant);
    const san = cert.extensions.find((e) => e.oid === OID_SAN)!;
    assert.equal(san.value[2], 0xa5);
    assert.throws(() => parseGeneralNames(san.value), invalidDer);
    // The entry path refuses it, as it does every certificate with a malformed SAN.
    assert.throws(
      () => parseVerificationMaterial(Buffer.from(pem('CERTIFICATE', mutant)), false),
      (e: unknown) => isVellumError(e, 'INVALID_CERTIFICATE') && /malformed certificate/.test(String(e)),
    );
  });
});

describe('AlgorithmIdentifier parameters are DER down to their universal contents', () => {
  const ed25519Spki = (params: Buffer): Buffer =>
    seq(seq(oid('1.3.101.112'), params), bitString(Buffer.alloc(32, 7)));
  it('a NULL with content, a BOOLEAN of two bytes and a padded INTEGER are refused; NULL and a SEQUENCE pass', () => {
    for (const bad of [tlv(0x05, hex('00')), tlv(0x01, hex('0000')), tlv(0x02, hex('0001'))])
      assert.throws(() => checkSpkiStructure(ed25519Spki(bad)), invalidDer);
    for (const good of [tlv(0x05, Buffer.alloc(0)), seq(integer(1), oid('1.2.3'))])
      assert.doesNotThrow(() => checkSpkiStructure(ed25519Spki(good)));
  });

  it('OpenSSL refuses a certificate whose signature algorithm has a NULL with content, and so do we', () => {
    const alg = seq(oid('1.2.840.10045.4.3.2'), tlv(0x05, hex('00')));
    const time = tlv(0x17, Buffer.from('240101000000Z'));
    const spki = seq(seq(oid('1.3.101.112')), bitString(Buffer.alloc(32, 7)));
    const tbs = seq(explicit(0, integer(2)), integer(1), alg, name('x'), seq(time, time), name('x'), spki);
    const der = seq(tbs, alg, bitString(Buffer.alloc(8)));
    assert.throws(() => new X509Certificate(der));
    assert.throws(() => parseCertificate(der), invalidDer);
    // The same certificate with an empty NULL is read by both.
    const okAlg = seq(oid('1.2.840.10045.4.3.2'), tlv(0x05, Buffer.alloc(0)));
    const okTbs = seq(
      explicit(0, integer(2)),
      integer(1),
      okAlg,
      name('x'),
      seq(time, time),
      name('x'),
      spki,
    );
    const ok = seq(okTbs, okAlg, bitString(Buffer.alloc(8)));
    assert.ok(new X509Certificate(ok));
    assert.equal(parseCertificate(ok).signatureAlgorithm, '1.2.840.10045.4.3.2');
  });
});
