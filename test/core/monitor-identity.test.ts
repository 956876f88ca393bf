import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { isVellumError } from '../../src/core/errors';
import {
  escapeForDisplay,
  extractIdentities,
  getExtension,
  MAX_VALUE_LENGTH,
  unparsableIdentity,
  type EntryIdentity,
} from '../../src/core/monitor/identity';
import { identityIndexKeys } from '../../src/core/monitor/index-keys';
import { readVector } from '../support/paths';
import {
  FULCIO,
  buildCa,
  buildCertificate,
  dsseBody,
  fulcioExt,
  githubFulcioExtensions,
  hashedrekordBody,
  intotoBody,
  newKeyPair,
  parseWithNode,
  pem,
  publicKeyPem,
  seq,
  utf8String,
  oid,
  tlv,
} from '../support/x509-builder';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const ca = buildCa();
const RELEASE_URI = 'https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.2.3';

function fulcioCert(extra: Parameters<typeof githubFulcioExtensions>[0] = {}, sans = [{ uri: RELEASE_URI }]) {
  return buildCertificate({ issuer: ca, sans, extensions: githubFulcioExtensions(extra) });
}

function only(identity: EntryIdentity) {
  assert.equal(identity.signers.length, 1);
  return identity.signers[0]!;
}

describe('x509-builder', () => {
  it('builds certificates that node:crypto parses and verifies', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [
        { email: 'user@example.com' },
        { uri: RELEASE_URI },
        { dns: 'example.com' },
        { ip: '192.0.2.1' },
        { otherName: 'octocat!github.com' },
      ],
      extensions: [fulcioExt(1, 'https://issuer.example'), fulcioExt(8, 'https://issuer.example')],
    });
    const x = parseWithNode(c.der);
    assert.ok(x.verify(ca.keys.publicKey));
    assert.ok(x.checkIssued(new X509Certificate(ca.der)));
    assert.match(x.subjectAltName ?? '', /email:user@example\.com/);
    assert.match(x.subjectAltName ?? '', /IP Address:192\.0\.2\.1/);
    assert.equal(x.fingerprint256.replace(/:/g, '').toLowerCase(), sha256(c.der));
  });

  it('builds malformed Fulcio extensions that OpenSSL still accepts (opaque extensions)', () => {
    const c = buildCertificate({
      issuer: ca,
      extensions: [fulcioExt(15, '1', 'utf8-trailing'), fulcioExt(11, 'x', 'wrong-tag')],
    });
    assert.doesNotThrow(() => parseWithNode(c.der));
  });
});

describe('extractIdentities: entry kinds', () => {
  it('hashedrekord: SANs, named Fulcio extensions, issuer, fingerprints', () => {
    const c = fulcioCert();
    const id = extractIdentities(Buffer.from(JSON.stringify(hashedrekordBody(c.pem))));
    assert.equal(id.kind, 'hashedrekord');
    assert.deepEqual(id.malformed, []);
    assert.deepEqual(id.digests, [`sha256:${'ab'.repeat(32)}`]);
    const s = only(id);
    assert.equal(s.type, 'certificate');
    assert.equal(s.path, 'spec.signature.publicKey.content');
    const cert = s.certificate!;
    assert.equal(cert.sha256, sha256(c.der));
    assert.equal(cert.spkiSha256, sha256(c.spkiDer));
    assert.equal(s.publicKeySha256, sha256(c.spkiDer));
    assert.deepEqual(
      cert.sans.map((x) => [x.type, x.value]),
      [['uri', RELEASE_URI]],
    );
    assert.equal(getExtension(cert, 'source-repository-identifier')?.value, '123456');
    assert.equal(getExtension(cert, 'sourceRepositoryIdentifier')?.value, '123456');
    assert.equal(getExtension(cert, `${FULCIO}.15`)?.value, '123456');
    assert.equal(getExtension(cert, 'runner-environment')?.value, 'github-hosted');
    assert.equal(getExtension(cert, 'github-workflow-repository')?.value, 'org/repo'); // raw .1.5
    assert.equal(cert.issuer.value, 'https://token.actions.githubusercontent.com');
    assert.equal(cert.issuer.source, 'v2');
    assert.equal(cert.issuer.disagreement, false);
  });

  it('dsse: one signer per distinct verifier, digests of payload and envelope', () => {
    const a = fulcioCert();
    const b = buildCertificate({ issuer: ca, sans: [{ email: 'b@example.com' }] });
    const id = extractIdentities(dsseBody([a.pem, b.pem, a.pem]));
    assert.equal(id.kind, 'dsse');
    assert.equal(id.signers.length, 2);
    assert.equal(id.signers[1]!.path, 'spec.signatures[1].verifier');
    assert.equal(id.signers[1]!.certificate!.sans[0]!.value, 'b@example.com');
    assert.deepEqual(id.digests, [`sha256:${'cd'.repeat(32)}`, `sha256:${'ef'.repeat(32)}`]);
  });

  it('intoto 0.0.2: publicKey (base64 PEM) of every envelope signature', () => {
    const c = fulcioCert();
    const id = extractIdentities(intotoBody([c.pem]));
    assert.equal(id.kind, 'intoto');
    assert.equal(only(id).path, 'spec.content.envelope.signatures[0].publicKey');
    assert.equal(only(id).certificate!.sha256, sha256(c.der));
  });

  it('accepts a verifier given as PEM text or base64 DER rather than base64 of PEM', () => {
    const c = fulcioCert();
    const body = hashedrekordBody(c.pem) as { spec: { signature: { publicKey: { content: string } } } };
    body.spec.signature.publicKey.content = c.pem;
    assert.equal(only(extractIdentities(body)).certificate!.sha256, sha256(c.der));
    // ...or as base64 of the bare DER (certificate or SPKI).
    body.spec.signature.publicKey.content = c.der.toString('base64');
    assert.equal(only(extractIdentities(body)).certificate!.sha256, sha256(c.der));
    body.spec.signature.publicKey.content = c.spkiDer.toString('base64');
    assert.equal(only(extractIdentities(body)).publicKeySha256, sha256(c.spkiDer));
  });

  it('chains: the first certificate is the signer, the rest are fingerprinted', () => {
    const c = fulcioCert();
    const s = only(extractIdentities(hashedrekordBody(c.pem + ca.pem)));
    assert.equal(s.certificate!.sha256, sha256(c.der));
    assert.deepEqual(s.chainSha256, [sha256(ca.der)]);
  });

  it('bare public keys: SPKI fingerprint, no certificate', () => {
    const keys = newKeyPair();
    const s = only(extractIdentities(hashedrekordBody(publicKeyPem(keys))));
    assert.equal(s.type, 'publicKey');
    assert.equal(s.certificate, undefined);
    assert.equal(s.publicKeySha256, sha256(keys.publicKey.export({ type: 'spki', format: 'der' })));
  });

  it('throws VellumError only for bodies that are not a supported kind', () => {
    assert.throws(
      () => extractIdentities(Buffer.from('{nope')),
      (e) => isVellumError(e, 'INVALID_ENTRY'),
    );
    assert.throws(
      () => extractIdentities([] as unknown as object),
      (e) => isVellumError(e, 'INVALID_ENTRY'),
    );
    assert.throws(
      () => extractIdentities({ kind: 'rekord', apiVersion: '0.0.1', spec: {} }),
      (e) => isVellumError(e, 'UNSUPPORTED_KIND'),
    );
    assert.throws(
      () => extractIdentities({ kind: 'intoto', apiVersion: '0.0.1', spec: {} }),
      (e) => isVellumError(e, 'UNSUPPORTED_VERSION'),
    );
    // A known kind with broken insides is malformed, not an exception.
    const id = extractIdentities({ kind: 'dsse', apiVersion: '0.0.1', spec: { signatures: 'x' } });
    assert.equal(id.signers.length, 0);
    assert.deepEqual(id.malformed, [{ path: 'spec.signatures', reason: 'missing or empty' }]);
  });

  it('unparsableIdentity gives one signer of unknown type', () => {
    const id = unparsableIdentity('rekord', '0.0.1', 'kind not supported');
    assert.equal(id.signers[0]!.type, 'unparsable');
    assert.equal(id.malformed.length, 1);
  });
});

describe('extractIdentities: production entries', () => {
  type Vec = { entries: Array<{ name: string; kind: string; logEntry: Record<string, { body: string }> }> };
  const vec = readVector<Vec>('rekor-production.json');
  for (const e of vec.entries) {
    it(`${e.name}: matches OpenSSL's view of the certificate`, () => {
      const body = Buffer.from(Object.values(e.logEntry)[0]!.body, 'base64');
      const id = extractIdentities(body);
      assert.equal(id.kind, e.kind);
      assert.deepEqual(id.malformed, []);
      const s = only(id);
      const cert = s.certificate!;
      const parsed = JSON.parse(body.toString('utf8'));
      const b64 =
        e.kind === 'hashedrekord'
          ? parsed.spec.signature.publicKey.content
          : e.kind === 'dsse'
            ? parsed.spec.signatures[0].verifier
            : parsed.spec.content.envelope.signatures[0].publicKey;
      const x = new X509Certificate(Buffer.from(b64, 'base64').toString('utf8'));
      assert.equal(cert.sha256, x.fingerprint256.replace(/:/g, '').toLowerCase());
      assert.equal(cert.spkiSha256, sha256(x.publicKey.export({ type: 'spki', format: 'der' })));
      const nodeSans = (x.subjectAltName ?? '')
        .split(', ')
        .map((p) => p.replace(/^URI:/, '').replace(/^email:/, ''));
      assert.deepEqual(
        cert.sans.map((v) => v.value),
        nodeSans,
      );
      assert.ok(cert.issuer.value?.startsWith('https://'));
    });
  }

  it('GitHub Actions certificate: workflow identity fields', () => {
    const e = vec.entries.find((x) => x.name === 'hashedrekord-github-wheel')!;
    const cert = only(
      extractIdentities(Buffer.from(Object.values(e.logEntry)[0]!.body, 'base64')),
    ).certificate!;
    assert.equal(getExtension(cert, 'source-repository-identifier')?.value, '768213997');
    assert.equal(getExtension(cert, 'build-trigger')?.value, 'release');
    assert.equal(getExtension(cert, 'github-workflow-trigger')?.value, 'release');
    assert.equal(
      getExtension(cert, 'run-invocation-uri')?.value,
      'https://github.com/trailofbits/rfc8785.py/actions/runs/8351058501/attempts/1',
    );
  });
});

describe('extractIdentities: Fulcio encodings and issuer', () => {
  it('issuer: .1.8 preferred; .1.1 used only when .1.8 is absent', () => {
    const only1 = buildCertificate({ issuer: ca, extensions: [fulcioExt(1, 'https://v1.example')] });
    const i1 = only(extractIdentities(hashedrekordBody(only1.pem))).certificate!.issuer;
    assert.deepEqual([i1.value, i1.source, i1.disagreement], ['https://v1.example', 'v1', false]);
    const both = buildCertificate({
      issuer: ca,
      extensions: [fulcioExt(1, 'https://same'), fulcioExt(8, 'https://same')],
    });
    const i2 = only(extractIdentities(hashedrekordBody(both.pem))).certificate!.issuer;
    assert.deepEqual([i2.value, i2.source, i2.disagreement], ['https://same', 'v2', false]);
    const none = buildCertificate({ issuer: ca, sans: [{ email: 'a@b.c' }] });
    const i3 = only(extractIdentities(hashedrekordBody(none.pem))).certificate!.issuer;
    assert.deepEqual([i3.value, i3.unknown], [undefined, false]);
  });

  it('issuer disagreement between .1.1 and .1.8 is flagged', () => {
    const c = buildCertificate({
      issuer: ca,
      extensions: [
        fulcioExt(1, 'https://token.actions.githubusercontent.com'),
        fulcioExt(8, 'https://evil.example'),
      ],
    });
    const i = only(extractIdentities(hashedrekordBody(c.pem))).certificate!.issuer;
    assert.equal(i.value, 'https://evil.example');
    assert.equal(i.disagreement, true);
    assert.equal(i.v1, 'https://token.actions.githubusercontent.com');
  });

  it('.1.8+ is strict DER UTF8String: trailing bytes and wrong tag are malformed, never read raw', () => {
    for (const enc of ['utf8-trailing', 'wrong-tag'] as const) {
      const c = buildCertificate({
        issuer: ca,
        extensions: [fulcioExt(15, '123456', enc), fulcioExt(12, 'https://github.com/org/repo')],
      });
      const id = extractIdentities(hashedrekordBody(c.pem));
      const cert = only(id).certificate!;
      const ext = getExtension(cert, 'source-repository-identifier')!;
      assert.ok(ext.malformed, enc);
      assert.notEqual(ext.value, '123456');
      assert.equal(getExtension(cert, 'source-repository-uri')?.malformed, undefined);
      assert.equal(id.malformed.length, 1);
      assert.match(id.malformed[0]!.path, /1\.3\.6\.1\.4\.1\.57264\.1\.15 \(source-repository-identifier\)/);
    }
  });

  it('.1.8+ given as raw bytes (the old encoding) is malformed', () => {
    const c = buildCertificate({ issuer: ca, extensions: [fulcioExt(11, 'github-hosted', 'raw')] });
    assert.ok(
      getExtension(only(extractIdentities(hashedrekordBody(c.pem))).certificate!, 'runner-environment')!
        .malformed,
    );
  });

  it('.1.1–.1.6 are raw: a DER-wrapped value is kept as its raw bytes, invalid UTF-8 is malformed', () => {
    const wrapped = buildCertificate({ issuer: ca, extensions: [fulcioExt(5, 'org/repo', 'utf8')] });
    const v = getExtension(
      only(extractIdentities(hashedrekordBody(wrapped.pem))).certificate!,
      'github-workflow-repository',
    )!;
    assert.equal(v.malformed, undefined);
    assert.equal(v.value, '\u000c\u0008org/repo'); // never "try DER then raw"
    const bad = buildCertificate({ issuer: ca, extensions: [fulcioExt(2, 'push', 'invalid-utf8')] });
    assert.ok(
      getExtension(
        only(extractIdentities(hashedrekordBody(bad.pem))).certificate!,
        'github-workflow-trigger',
      )!.malformed,
    );
  });

  it('a malformed .1.8 makes the issuer unknown, with no fallback to .1.1', () => {
    const c = buildCertificate({
      issuer: ca,
      extensions: [fulcioExt(1, 'https://ok'), fulcioExt(8, 'https://ok', 'utf8-trailing')],
    });
    const i = only(extractIdentities(hashedrekordBody(c.pem))).certificate!.issuer;
    assert.equal(i.value, undefined);
    assert.equal(i.unknown, true);
  });

  it('OtherName .1.7 SAN is a subject; other OtherNames are recorded but not subjects', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [{ otherName: 'octocat!github.com' }, { otherName: 'upn@corp', oid: '1.3.6.1.4.1.311.20.2.3' }],
    });
    const cert = only(extractIdentities(hashedrekordBody(c.pem))).certificate!;
    assert.deepEqual(
      cert.sans.map((s) => [s.type, s.oid, s.value, s.malformed]),
      [
        ['otherName', `${FULCIO}.7`, 'octocat!github.com', undefined],
        ['otherName', '1.3.6.1.4.1.311.20.2.3', 'upn@corp', undefined],
      ],
    );
  });

  it('OtherName .1.7 with a wrong tag is a malformed value; with trailing bytes, a malformed SAN', () => {
    const wrongTag = buildCertificate({
      issuer: ca,
      sans: [{ otherName: '', valueDer: tlv(0x13, Buffer.from('x')) }],
    });
    const id = extractIdentities(hashedrekordBody(wrongTag.pem));
    assert.ok(only(id).certificate!.sans[0]!.malformed);
    assert.equal(only(id).certificate!.sansMalformed, undefined);
    assert.ok(id.malformed.length > 0);
    // More than one element in the [0] wrapper breaks the OtherName structure, and OpenSSL drops
    // the whole extension for it: every SAN of the certificate is unknown.
    const trailing = Buffer.concat([utf8String('octocat'), Buffer.from([0])]);
    const c = buildCertificate({
      issuer: ca,
      sans: [{ email: 'a@b.c' }, { otherName: '', valueDer: trailing }],
    });
    const cert = only(extractIdentities(hashedrekordBody(c.pem))).certificate!;
    assert.deepEqual(cert.sans, []);
    assert.ok(cert.sansMalformed);
  });

  it('IP SANs are rendered canonically; a bad length is malformed', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [{ ip: '10.1.2.3' }, { ip: '2001:db8::1' }, { ip: Buffer.from([1, 2, 3]) }],
    });
    const sans = only(extractIdentities(hashedrekordBody(c.pem))).certificate!.sans;
    assert.deepEqual(
      sans.slice(0, 2).map((s) => s.value),
      ['10.1.2.3', '2001:db8::1'],
    );
    assert.ok(sans[2]!.malformed);
  });

  it('duplicate Fulcio extensions make every copy unknown', () => {
    const c = buildCertificate({ issuer: ca, extensions: [fulcioExt(15, '1'), fulcioExt(15, '2')] });
    const cert = only(extractIdentities(hashedrekordBody(c.pem))).certificate!;
    assert.equal(cert.extensions.length, 2);
    assert.ok(cert.extensions.every((e) => e.malformed !== undefined));
  });

  it('values longer than the cap are truncated and reported', () => {
    const long = 'https://github.com/' + 'a'.repeat(3000);
    const c = buildCertificate({ issuer: ca, sans: [{ uri: long }] });
    const id = extractIdentities(hashedrekordBody(c.pem));
    const san = only(id).certificate!.sans[0]!;
    assert.equal(san.truncated, true);
    assert.equal(san.value.length, MAX_VALUE_LENGTH);
    assert.ok(id.malformed.some((m) => /truncated/.test(m.reason)));
  });
});

describe('extractIdentities: unparsable input is malformed, never skipped', () => {
  it('garbage inside a CERTIFICATE block', () => {
    const text = pem('CERTIFICATE', seq(seq(tlv(0x02, Buffer.from([1]))), Buffer.from([0xff])));
    const id = extractIdentities(hashedrekordBody(text));
    const s = only(id);
    assert.equal(s.type, 'certificate');
    assert.equal(s.certificate!.parsed, false);
    assert.ok(s.certificate!.sha256);
    assert.ok(id.malformed.length > 0);
  });

  it('truncated certificate, bad base64, bad PEM, unsupported block type', () => {
    const c = fulcioCert();
    const cases: unknown[] = [
      pem('CERTIFICATE', c.der.subarray(0, c.der.length - 10)),
      '%%%not base64%%%',
      Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA').toString('base64'),
      Buffer.from(pem('PRIVATE KEY', Buffer.from([0x30, 0]))).toString('base64'),
      42,
    ];
    for (const v of cases) {
      const body = hashedrekordBody('x') as { spec: { signature: { publicKey: { content: unknown } } } };
      body.spec.signature.publicKey.content = v;
      const id = extractIdentities(body);
      assert.ok(id.malformed.length > 0, String(v));
      assert.equal(id.signers.length, 1);
    }
  });

  it('the SAN extension with trailing bytes makes all SANs unknown', () => {
    const badSan = {
      oid: '2.5.29.17',
      value: Buffer.concat([seq(tlv(0x86, Buffer.from('https://x'))), Buffer.from([0])]),
    };
    const c = buildCertificate({ issuer: ca, extensions: [badSan] });
    const cert = only(extractIdentities(hashedrekordBody(c.pem))).certificate!;
    assert.ok(cert.sansMalformed);
  });

  it('an extension list that is not DER is an unparsable certificate', () => {
    // Non-minimal length inside an extension value's OID.
    const bad = { oid: `${FULCIO}.9`, value: utf8String('x') };
    const c = buildCertificate({ issuer: ca, extensions: [bad] });
    const der = Buffer.from(c.der);
    const needle = oid(`${FULCIO}.9`);
    const at = der.indexOf(needle);
    der[at + needle.length - 1] = 0x89; // the last arc byte now has its continuation bit set
    const cert = only(extractIdentities(hashedrekordBody(pem('CERTIFICATE', der)))).certificate!;
    assert.equal(cert.parsed, false);
  });
});

describe('identityIndexKeys', () => {
  it('subjects, repository ids, fingerprints; no malformed key for a clean certificate', () => {
    const c = fulcioCert();
    const keys = identityIndexKeys(extractIdentities(hashedrekordBody(c.pem)));
    assert.ok(keys.includes(`subj:${RELEASE_URI}`));
    assert.ok(keys.includes('ext:1.3.6.1.4.1.57264.1.15:123456'));
    assert.ok(keys.includes(`fp:${sha256(c.der)}`));
    assert.ok(keys.includes(`fp:${sha256(c.spkiDer)}`));
    assert.ok(!keys.includes('malformed'));
  });
});

describe('escapeForDisplay', () => {
  const hostile =
    'x@channel <!here> <https://evil.example|click> [a](https://evil.example) **b** `c` <script>alert(1)</script> @everyone';
  it('markdown: no mention, link, formatting or HTML survives', () => {
    const s = escapeForDisplay(hostile);
    assert.doesNotMatch(s, /@channel|@everyone|@here/);
    assert.doesNotMatch(s, /<|>/);
    assert.doesNotMatch(s, /https:\/\//);
    assert.doesNotMatch(s, /evil\.example/);
    assert.doesNotMatch(s, /(?<!\\)[*`[\]]/);
    // Stripping the invisible separators and escapes gives back the literal text.
    const back = s
      .replace(/\u200b/g, '')
      .replace(/\\(.)/g, '$1')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
    assert.equal(back, hostile);
  });
  it('markdown: block syntax at the start is escaped', () => {
    assert.equal(escapeForDisplay('# h'), '\\# h');
    assert.equal(escapeForDisplay('1. item'), '1\\. item');
    assert.equal(escapeForDisplay('- item'), '\\- item');
  });
  it('html: entities', () => {
    assert.equal(
      escapeForDisplay(`<a href="x">'&'</a>`, 'html'),
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
  });
  it('control, bidi and zero-width characters are made visible', () => {
    assert.equal(escapeForDisplay('a\u202eb\nc\u200bd', 'text'), 'a\\u{202e}b\\u{000a}c\\u{200b}d');
  });
  it('caps length', () => {
    const s = escapeForDisplay('a'.repeat(5000), 'text');
    assert.equal(s, 'a'.repeat(MAX_VALUE_LENGTH) + '…[truncated]');
  });
});
