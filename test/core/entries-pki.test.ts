/**
 * Certificates inside entries: SAN extraction for the search index (Go's order and formatting,
 * Fulcio's OtherName), chain verification at the leaf's NotBefore without any clock, expiry
 * deliberately ignored, and certificate encodings Go would refuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { prepareEntry } from '../../src/core/entries';
import { parseSpki, parseVerificationMaterial } from '../../src/core/x509';
import { createFastVerifier } from '../../src/crypto/fast-verifier';
import { VellumError, isVellumError } from '../../src/core/errors';
import {
  buildCa,
  buildCertificate,
  generalName,
  ia5String,
  pem,
  seq,
  tlv,
  oid,
  explicit,
  utf8String,
  type BuiltCert,
} from '../support/x509-builder';

const fast = createFastVerifier();
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const ARTIFACT = Buffer.from('release.tar.gz contents');

/** A hashedrekord entry signed by `leaf`'s key, carrying `pemText` as the key material. */
function entryFor(leaf: BuiltCert, pemText: string): Record<string, unknown> {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(ARTIFACT).digest('hex') } },
      signature: {
        content: b64(sign('sha256', ARTIFACT, leaf.keys.privateKey)),
        publicKey: { content: b64(pemText) },
      },
    },
  };
}

function rejectsWith(input: unknown, code: string, message: string): void {
  assert.throws(
    () => prepareEntry(input, fast),
    (e: unknown) => e instanceof VellumError && e.code === code && e.message === message,
  );
}

test('SANs: Go order (DNS, email, IP, URI, Fulcio OtherName), Go IP formatting, lowercased keys', () => {
  const cert = buildCertificate({
    sans: [
      { uri: 'https://GitHub.com/Org/Repo/.github/workflows/Release.yml@refs/tags/v1' },
      { email: 'Signer@Example.com' },
      { ip: '192.0.2.1' },
      { ip: '2001:db8::1' },
      { ip: Buffer.from('00000000000000000000ffffc0000202', 'hex') }, // IPv4-mapped: printed as IPv4
      { ip: Buffer.from('20010db8000000010000000000000001', 'hex') }, // longest zero run compressed
      { dns: 'Build.Example.com' },
      { otherName: 'GitHubUser' },
    ],
  });
  const m = parseVerificationMaterial(Buffer.from(cert.pem), true);
  assert.deepEqual(m.subjects, [
    'Build.Example.com',
    'Signer@Example.com',
    '192.0.2.1',
    '2001:db8::1',
    '192.0.2.2',
    '2001:db8:0:1::1',
    'https://GitHub.com/Org/Repo/.github/workflows/Release.yml@refs/tags/v1',
    'GitHubUser',
  ]);
  const p = prepareEntry(entryFor(cert, cert.pem), fast);
  assert.deepEqual(
    p.indexKeys.slice(1, -1),
    m.subjects.map((s) => s.toLowerCase()),
  );
});

test('SANs: an OtherName with a foreign OID or more than one OtherName contributes no subject', () => {
  const foreign = buildCertificate({ sans: [{ email: 'a@b.c' }, { otherName: 'x', oid: '1.2.3.4' }] });
  assert.deepEqual(parseVerificationMaterial(Buffer.from(foreign.pem), true).subjects, ['a@b.c']);
  const two = buildCertificate({ sans: [{ otherName: 'one' }, { otherName: 'two' }] });
  assert.deepEqual(parseVerificationMaterial(Buffer.from(two.pem), true).subjects, []);
  const notUtf8String = buildCertificate({
    sans: [{ otherName: 'x', valueDer: tlv(0x13, Buffer.from('x')) }],
  });
  assert.deepEqual(parseVerificationMaterial(Buffer.from(notUtf8String.pem), true).subjects, []);
  // The builder's otherName really is what the parser reads when it is well formed.
  const ok = buildCertificate({
    sans: [
      {
        rawGeneralName: tlv(
          0xa0,
          Buffer.concat([oid('1.3.6.1.4.1.57264.1.7'), explicit(0, utf8String('me'))]),
        ),
      },
    ],
  });
  assert.deepEqual(parseVerificationMaterial(Buffer.from(ok.pem), true).subjects, ['me']);
});

test('SANs that Go refuses make the certificate unusable', () => {
  const bad = buildCertificate({
    sans: [{ rawGeneralName: ia5String(0x81, Buffer.from('café@example.com', 'utf8')) }],
  });
  rejectsWith(
    entryFor(bad, bad.pem),
    'INVALID_ENTRY',
    'error processing entry: x509: SAN rfc822Name is malformed',
  );
  const badIp = buildCertificate({ sans: [{ ip: Buffer.from([1, 2, 3]) }] });
  rejectsWith(
    entryFor(badIp, badIp.pem),
    'INVALID_ENTRY',
    'error processing entry: x509: cannot parse IP address of length 3',
  );
  assert.ok(generalName({ dns: 'x' }).length > 0);
});

test('expired and not-yet-valid certificates are accepted: Rekor never checks expiry', () => {
  const old = buildCertificate({
    notBefore: new Date('2001-01-01T00:00:00Z'),
    notAfter: new Date('2001-01-01T00:10:00Z'),
  });
  const future = buildCertificate({
    notBefore: new Date('2049-01-01T00:00:00Z'),
    notAfter: new Date('2049-12-31T00:00:00Z'),
  });
  for (const c of [old, future]) {
    const p = prepareEntry(entryFor(c, c.pem), fast);
    const stored = Buffer.from(
      JSON.parse(p.body.toString()).spec.signature.publicKey.content,
      'base64',
    ).toString();
    assert.equal(stored, pem('CERTIFICATE', c.der));
  }
});

test('chains: leaf + intermediate + root verify at the leaf NotBefore and are stored whole', () => {
  const root = buildCa('root');
  const intermediate = buildCertificate({ subjectCN: 'intermediate', ca: true, issuer: root });
  // The leaf outlived its chain long ago; only its NotBefore matters.
  const leaf = buildCertificate({
    issuer: intermediate,
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2099-01-01T00:00:00Z'),
    sans: [{ email: 'ci@example.com' }],
  });
  const chainPem = leaf.pem + intermediate.pem + root.pem;
  const p = prepareEntry(entryFor(leaf, chainPem), fast);
  const stored = Buffer.from(
    JSON.parse(p.body.toString()).spec.signature.publicKey.content,
    'base64',
  ).toString();
  assert.equal(stored, [leaf, intermediate, root].map((c) => pem('CERTIFICATE', c.der)).join(''));
  assert.ok(p.indexKeys.includes('ci@example.com'));
  // Two certificates (leaf + its issuer as root) are a chain too.
  prepareEntry(entryFor(leaf, leaf.pem + intermediate.pem), fast);
});

test('chains that do not verify are refused', () => {
  const root = buildCa('root');
  const other = buildCa('other root');
  const leaf = buildCertificate({ issuer: root });
  const unknown =
    'error processing entry: verifying signature: x509: certificate signed by unknown authority';
  rejectsWith(entryFor(leaf, leaf.pem + other.pem), 'INVALID_SIGNATURE', unknown);
  // An issuer that is not a CA cannot sign certificates.
  const notCa = buildCertificate({ subjectCN: 'not a ca' });
  const leaf2 = buildCertificate({ issuer: notCa });
  rejectsWith(entryFor(leaf2, leaf2.pem + notCa.pem), 'INVALID_SIGNATURE', unknown);
  // The root must be valid at the leaf's NotBefore.
  const lateRoot = buildCertificate({
    subjectCN: 'late',
    ca: true,
    notBefore: new Date('2030-01-01T00:00:00Z'),
  });
  const early = buildCertificate({ issuer: lateRoot, notBefore: new Date('2025-01-01T00:00:00Z') });
  rejectsWith(entryFor(early, early.pem + lateRoot.pem), 'INVALID_SIGNATURE', unknown);
  // dsse/intoto verifiers are checked the same way.
  assert.throws(
    () => parseVerificationMaterial(Buffer.from(leaf.pem + other.pem), true),
    (e: unknown) => isVellumError(e, 'INVALID_CERTIFICATE'),
  );
  parseVerificationMaterial(Buffer.from(leaf.pem + other.pem), false);
});

test('certificate encodings: trailing bytes and non-certificate blocks', () => {
  const c = buildCertificate();
  const trailing = pem('CERTIFICATE', Buffer.concat([c.der, Buffer.from([0, 0])]));
  rejectsWith(entryFor(c, trailing), 'INVALID_ENTRY', 'error processing entry: x509: trailing data');
  rejectsWith(
    entryFor(c, pem('CERTIFICATE', seq(Buffer.from([0x02, 0x01, 0x01])))),
    'INVALID_ENTRY',
    'error processing entry: x509: malformed certificate',
  );
  rejectsWith(
    entryFor(c, c.pem + pem('PRIVATE KEY', Buffer.from([1, 2, 3]))),
    'INVALID_ENTRY',
    'error processing entry: x509: malformed certificate',
  );
  // A certificate for an RSA key works like a bare RSA key.
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaCert = buildCertificate({ keys: rsa, issuer: buildCa() });
  prepareEntry(entryFor(rsaCert, rsaCert.pem), fast);
});

test('parseSpki re-encodes exactly what OpenSSL emits, and its lazy KeyObject is the same key', () => {
  const pairs = [
    generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }),
    generateKeyPairSync('rsa', { modulusLength: 3072 }),
    generateKeyPairSync('ed25519'),
  ];
  for (const { publicKey, privateKey } of pairs) {
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const key = parseSpki(der);
    assert.ok(key.spki.equals(der));
    assert.ok(key.keyObject.equals(publicKey));
    assert.equal(Object.keys(key).includes('keyObject'), false, 'created lazily, not eagerly');
    const msg = Buffer.from('m');
    const alg = publicKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
    assert.ok(verify(alg, msg, key.keyObject, sign(alg, msg, privateKey)));
  }
  // Structural refusals, each with Go's wording.
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
    type: 'spki',
    format: 'der',
  });
  const offCurve = Buffer.from(ec);
  offCurve[offCurve.length - 1]! ^= 1;
  assert.throws(() => parseSpki(offCurve), { message: 'x509: invalid elliptic curve public key' });
  // Valid points are remembered: a second parse of the same key gives the same key, and the
  // off-curve neighbour of a remembered point (one bit apart) is still refused, before and after.
  assert.ok(parseSpki(ec).publicBytes.equals(parseSpki(ec).publicBytes));
  assert.throws(() => parseSpki(offCurve), { message: 'x509: invalid elliptic curve public key' });
  for (let i = 0; i < 1100; i++) {
    parseSpki(
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
    );
  }
  assert.ok(parseSpki(ec).spki.equals(ec), 'still parsed after being forgotten');
  assert.throws(() => parseSpki(offCurve), { message: 'x509: invalid elliptic curve public key' });
  assert.throws(() => parseSpki(Buffer.concat([ec, Buffer.from([0])])), {
    message: 'x509: failed to parse public key',
  });
  const unusedBits = Buffer.from(ec);
  unusedBits[ec.indexOf(Buffer.from('034200', 'hex')) + 2] = 1;
  assert.throws(() => parseSpki(unusedBits), { message: 'x509: failed to parse public key' });
  const rsaNoNull = seq(
    seq(oid('1.2.840.113549.1.1.1')),
    tlv(
      0x03,
      Buffer.concat([
        Buffer.from([0]),
        seq(tlv(0x02, Buffer.alloc(256, 0x7f)), tlv(0x02, Buffer.from([1, 0, 1]))),
      ]),
    ),
  );
  assert.throws(() => parseSpki(rsaNoNull), { message: 'x509: failed to parse public key' });
  const evenExponent = seq(
    seq(oid('1.2.840.113549.1.1.1'), tlv(0x05, Buffer.alloc(0))),
    tlv(
      0x03,
      Buffer.concat([
        Buffer.from([0]),
        seq(tlv(0x02, Buffer.alloc(256, 0x7f)), tlv(0x02, Buffer.from([1, 0, 0]))),
      ]),
    ),
  );
  assert.throws(() => parseSpki(evenExponent), { message: 'x509: unsupported RSA public exponent' });
});
