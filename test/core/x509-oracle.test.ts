/**
 * core/x509 against OpenSSL (node:crypto X509Certificate) as an oracle: on random certificates
 * from test/support/x509-builder.ts, on the real Fulcio certificates of Rekor's production log, and
 * on mutations of both (byte flips, truncations, length-field edits). Whatever our parser accepts,
 * OpenSSL accepts too and reads the same serial, validity, names, SANs, CA flag and public key;
 * where only OpenSSL accepts, the mutant is BER or breaks a DER rule we enforce (counted below).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { isVellumError } from '../../src/core/errors';
import {
  OID_SAN,
  formatIp,
  basicConstraintsCa,
  parseSpki,
  parseCertificate,
  parseGeneralNames,
  decodeIpName,
  decodeTextName,
  parseVerificationMaterial,
  type Certificate,
} from '../../src/core/x509';
import { readVector } from '../support/paths';
import { buildCa, buildCertificate, name, pem, type KeyPair, type SanSpec } from '../support/x509-builder';
import { applyMutation, mutationArb } from '../support/der-mutations';

const ca = buildCa('oracle CA');
const KEYS: KeyPair[] = [
  generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  generateKeyPairSync('ed25519'),
  generateKeyPairSync('rsa', { modulusLength: 2048 }),
];

/** fc.assert, with the failing assertion's own message in the report (Node's reporter drops `cause`). */
function assertProperty<T>(p: fc.IProperty<T>, params: fc.Parameters<T>): void {
  try {
    fc.assert(p, params);
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    throw new Error(`${(e as Error).message}\n${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    assert.ok(isVellumError(e), String(e));
    return undefined;
  }
}

function oracle(der: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}

function ours(der: Buffer): Certificate | undefined {
  try {
    return parseCertificate(der);
  } catch (e) {
    assert.ok(isVellumError(e, 'INVALID_DER'), `only INVALID_DER escapes, got ${String(e)}`);
    return undefined;
  }
}

/** Eight lowercase 4-digit groups: OpenSSL prints IPv6 uncompressed and uppercase. */
function expandIpv6(s: string): string {
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.toLowerCase().padStart(4, '0')).join(':');
}

/** OpenSSL's SAN text, in certificate order, as our decoders would render it. */
function oursSanText(cert: Certificate): string | undefined {
  const ext = cert.extensions.find((e) => e.oid === OID_SAN);
  if (ext === undefined) return undefined;
  return parseGeneralNames(ext.value)
    .map((gn) => {
      if (gn.type === 'email') return `email:${decodeTextName(gn, 'e')}`;
      if (gn.type === 'dns') return `DNS:${decodeTextName(gn, 'd')}`;
      if (gn.type === 'uri') return `URI:${decodeTextName(gn, 'u')}`;
      if (gn.type === 'ip') {
        const v = decodeIpName(gn, 'ip');
        return `IP Address:${gn.bytes.length === 4 ? v : expandIpv6(v)}`;
      }
      return 'other';
    })
    .join(', ');
}

function nodeSanText(x: X509Certificate): string | undefined {
  return x.subjectAltName?.replace(
    /IP Address:([0-9A-F:]+:[0-9A-F:]+)/g,
    (_, v: string) => `IP Address:${expandIpv6(v)}`,
  );
}

/** The serial as a signed number: our bytes are two's complement when `serialNegative`. */
function signedSerial(c: Certificate): bigint {
  const v = BigInt('0x' + c.serial.toString('hex'));
  return c.serialNegative ? v - (1n << BigInt(8 * c.serial.length)) : v;
}

/** OpenSSL prints a negative serial as "-" and its magnitude in hex. */
function nodeSerial(x: X509Certificate): bigint {
  const s = x.serialNumber;
  return s.startsWith('-') ? -BigInt('0x' + s.slice(1)) : BigInt('0x' + s);
}

/** The fields both parsers expose, which must agree whenever both accept. */
function assertAgree(c: Certificate, x: X509Certificate, withSans: boolean, compareCa = true): void {
  assert.ok(x.raw.equals(c.der));
  assert.equal(signedSerial(c), nodeSerial(x));
  assert.equal(c.notBefore, Date.parse(x.validFrom));
  assert.equal(c.notAfter, Date.parse(x.validTo));
  // OpenSSL reads a BER basicConstraints (a BOOLEAN of 0x01, say), and calls a certificate with
  // any bad extension no CA; compare on certificates the entry path accepts, as Go would.
  const entryOk = attempt(() => parseVerificationMaterial(Buffer.from(pem('CERTIFICATE', c.der)), false));
  if (compareCa && entryOk !== undefined) assert.equal(basicConstraintsCa(c), x.ca);
  // OpenSSL re-encodes keys (RSA parameters become NULL) and decodes them lazily; compare the
  // keys that the entry path accepts, which are canonical.
  const key = attempt(() => parseSpki(c.spki));
  if (key !== undefined) assert.ok(key.spki.equals(x.publicKey.export({ type: 'spki', format: 'der' })));
  if (withSans) assert.equal(oursSanText(c), nodeSanText(x));
}

const safeText = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/);
const sanArb: fc.Arbitrary<SanSpec> = fc.oneof(
  safeText.map((s) => ({ email: `${s}@example.com` })),
  safeText.map((s) => ({ dns: `${s}.example` })),
  safeText.map((s) => ({ uri: `https://example.com/${s}` })),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => ({ ip: Buffer.from(b) })),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ({ ip: Buffer.from(b) })),
);
// UTCTime covers 1950-2049; the builder writes UTCTime.
const timeArb = fc
  .integer({ min: Date.UTC(1950, 0, 1), max: Date.UTC(2049, 11, 31) })
  .map((ms) => new Date(Math.floor(ms / 1000) * 1000));
const certArb = fc
  .record({
    cn: fc.option(safeText, { nil: undefined }),
    sans: fc.array(sanArb, { maxLength: 6 }),
    a: timeArb,
    b: timeArb,
    key: fc.integer({ min: 0, max: KEYS.length - 1 }),
    isCa: fc.boolean(),
    selfSigned: fc.boolean(),
  })
  .map((r) => {
    const [notBefore, notAfter] = r.a <= r.b ? [r.a, r.b] : [r.b, r.a];
    const built = buildCertificate({
      subjectCN: r.cn,
      sans: r.sans,
      keys: KEYS[r.key],
      notBefore,
      notAfter,
      ca: r.isCa,
      ...(r.selfSigned && r.key === 0 ? {} : { issuer: ca }),
    });
    return {
      ...built,
      cn: r.cn,
      issuerName: r.selfSigned && r.key === 0 ? built.subjectName : ca.subjectName,
    };
  });

function productionCertificates(): Buffer[] {
  type Vec = { entries: Array<{ kind: string; logEntry: Record<string, { body: string }> }> };
  const out: Buffer[] = [];
  for (const e of readVector<Vec>('rekor-production.json').entries) {
    const body = JSON.parse(Buffer.from(Object.values(e.logEntry)[0]!.body, 'base64').toString('utf8'));
    const b64 =
      e.kind === 'hashedrekord'
        ? body.spec.signature.publicKey.content
        : e.kind === 'dsse'
          ? body.spec.signatures[0].verifier
          : body.spec.content.envelope.signatures[0].publicKey;
    const pemText = Buffer.from(b64, 'base64').toString('utf8');
    if (pemText.includes('CERTIFICATE')) out.push(new X509Certificate(pemText).raw);
  }
  return out;
}

describe('core/x509 against OpenSSL', () => {
  it('random certificates: both accept and read the same fields', () => {
    fc.assert(
      fc.property(certArb, (c) => {
        const x = oracle(c.der);
        const mine = ours(c.der);
        assert.ok(x && mine);
        assertAgree(mine, x, true);
        assert.ok(mine.subject.equals(name(c.cn)));
        assert.ok(mine.issuer.equals(c.issuerName));
        assert.equal(x.subject ?? '', c.cn === undefined ? '' : `CN=${c.cn}`);
        // The entry path reads the same certificate.
        assert.deepEqual(parseVerificationMaterial(Buffer.from(c.pem), false).certificates[0], c.der);
      }),
      { numRuns: 150 },
    );
  });

  const production = productionCertificates();
  it(`the ${production.length} real Fulcio certificates parse as OpenSSL reads them`, () => {
    assert.ok(production.length >= 3);
    for (const der of production) {
      assertAgree(ours(der)!, oracle(der)!, true);
      assert.equal(basicConstraintsCa(ours(der)!), false);
    }
  });

  it('mutated certificates: whatever we accept, OpenSSL accepts with the same fields', (t) => {
    const seeds = [...production, ...fc.sample(certArb, 6).map((c) => c.der)];
    const counts = { both: 0, neither: 0, onlyOpenssl: 0, badKeyOnlyOurs: 0 };
    assertProperty(
      fc.property(fc.integer({ min: 0, max: seeds.length - 1 }), mutationArb, (i, m) => {
        const der = applyMutation(seeds[i]!, m);
        const x = oracle(der);
        const mine = ours(der);
        if (mine !== undefined) {
          // OpenSSL decodes the key of a known algorithm while parsing and refuses the
          // certificate when it cannot; we keep the key opaque, and the entry path refuses it.
          if (x === undefined && attempt(() => parseSpki(mine.spki)) === undefined) {
            counts.badKeyOnlyOurs++;
            return;
          }
          assert.ok(x !== undefined, `we accepted what OpenSSL refuses (${JSON.stringify(m)})`);
          try {
            // A flipped extension OID turns one known extension into another that OpenSSL (and
            // Go) decode and we keep opaque; the CA flag is compared when the OIDs are intact.
            const oids = (c: Certificate) => c.extensions.map((e) => e.oid).join(',');
            assertAgree(mine, x, false, oids(mine) === oids(ours(seeds[i]!)!));
          } catch (e) {
            throw new Error(`${String(e)}\nmutant ${der.toString('hex')}`);
          }
          counts.both++;
        } else if (x === undefined) counts.neither++;
        else counts.onlyOpenssl++;
      }),
      { numRuns: 3000 },
    );
    t.diagnostic(`mutants: ${JSON.stringify(counts)}`);
    // Both outcomes occur, so the property is not vacuous.
    assert.ok(counts.both > 0 && counts.neither > 0, JSON.stringify(counts));
  });

  it('IP formatting matches Go net.IP.String, IPv4-mapped addresses as dotted quads', () => {
    assert.equal(formatIp(Buffer.from('00000000000000000000ffffc0000202', 'hex')), '192.0.2.2');
    assert.equal(formatIp(Buffer.from('20010db8000000010000000000000001', 'hex')), '2001:db8:0:1::1');
  });
});
