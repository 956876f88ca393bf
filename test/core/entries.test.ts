/**
 * Entry kinds on good input: the production Rekor vectors must come out byte for byte, fresh
 * entries for every allowed key/digest pair must be accepted and canonicalized, and inputs that
 * differ only in presentation (key order, whitespace, PEM wrapping, base64 line breaks) must give
 * one leaf hash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { ed25519ph } from '@noble/curves/ed25519';
import {
  prepareEntry,
  referenceVerifier,
  supportedKinds,
  kindOf,
  type SignatureVerifier,
} from '../../src/core/entries';
import { createFastVerifier } from '../../src/crypto/fast-verifier';
import { canonicalize } from '../../src/core/jcs';
import { readVector } from '../support/paths';
import { buildCertificate, pem as pemOf } from '../support/x509-builder';

interface VectorEntry {
  name: string;
  kind: string;
  apiVersion: string;
  leafHash: string;
  logEntry: Record<string, { body: string }>;
  bundleContent: {
    messageDigestHex?: string;
    messageSignatureBase64?: string;
    dsseEnvelope?: {
      payload: string;
      payloadType: string;
      signatures: Array<{ sig: string; keyid: string }>;
    };
  };
}
const vectors = readVector<{ entries: VectorEntry[]; proofOnlyEntries: VectorEntry[] }>(
  'rekor-production.json',
);
const ALL = [...vectors.entries, ...vectors.proofOnlyEntries];
const byName = (n: string): VectorEntry => ALL.find((e) => e.name === n)!;
const bodyOf = (e: VectorEntry): Buffer => Buffer.from(Object.values(e.logEntry)[0]!.body, 'base64');

const fast = createFastVerifier();
const VERIFIERS: ReadonlyArray<[string, SignatureVerifier]> = [
  ['reference', referenceVerifier],
  ['fast', fast],
];

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The proposed entry a client would have sent for a production vector. */
function proposedFor(e: VectorEntry): Record<string, any> {
  const body = JSON.parse(bodyOf(e).toString('utf8'));
  switch (e.kind) {
    case 'hashedrekord':
      // sigstore clients send exactly the stored shape (the cert PEM is already Go-style).
      return body;
    case 'dsse':
      // sigstore-js: the envelope is JSON.stringify(envelope); the verifier is its cert PEM.
      return {
        apiVersion: '0.0.1',
        kind: 'dsse',
        spec: {
          proposedContent: {
            envelope: JSON.stringify(e.bundleContent.dsseEnvelope),
            verifiers: body.spec.signatures.map((s: { verifier: string }) => s.verifier),
          },
        },
      };
    default: {
      const env = e.bundleContent.dsseEnvelope!;
      return {
        apiVersion: '0.0.2',
        kind: 'intoto',
        spec: {
          content: {
            envelope: {
              payload: b64(env.payload),
              payloadType: env.payloadType,
              signatures: body.spec.content.envelope.signatures,
            },
            hash: body.spec.content.hash,
            payloadHash: body.spec.content.payloadHash,
          },
        },
      };
    }
  }
}

test('supportedKinds and kindOf describe what prepareEntry accepts', () => {
  assert.deepEqual(
    supportedKinds.map((k) => `${k.kind}@${k.apiVersions.join(',')}`),
    ['hashedrekord@0.0.1', 'dsse@0.0.1', 'intoto@0.0.2'],
  );
  assert.equal(kindOf({ kind: 'dsse' }), 'dsse');
  assert.equal(kindOf({ kind: 'rekord' }), 'rekord');
  assert.equal(kindOf({ kind: 'nope' }), undefined);
  assert.equal(kindOf(null), undefined);
});

for (const e of ALL) {
  test(`production vector ${e.name}: the rebuilt body and leaf hash are byte-identical`, () => {
    const expected = bodyOf(e);
    for (const [name, v] of VERIFIERS) {
      const p = prepareEntry(proposedFor(e), v);
      assert.equal(p.kind, e.kind);
      assert.equal(p.apiVersion, e.apiVersion);
      assert.equal(p.body.toString('utf8'), expected.toString('utf8'), name);
      assert.equal(p.leafHash.toString('hex'), e.leafHash, name);
      assert.ok(p.indexKeys.every((k) => k === k.toLowerCase()));
    }
  });
}

test('production vectors: index keys as the Rekor search index writes them', () => {
  const hr = prepareEntry(proposedFor(byName('hashedrekord-github-wheel')), fast);
  const certPem = unb64(
    JSON.parse(bodyOf(byName('hashedrekord-github-wheel')).toString()).spec.signature.publicKey.content,
  );
  assert.deepEqual(hr.indexKeys, [
    createHash('sha256').update(certPem).digest('hex'),
    'https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2',
    'sha256:c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201',
  ]);
  const dsse = prepareEntry(proposedFor(byName('dsse-npm-provenance')), fast);
  const dsseBody = JSON.parse(dsse.body.toString());
  const verifierPem = unb64(dsseBody.spec.signatures[0].verifier);
  assert.deepEqual(dsse.indexKeys, [
    'sha256:' + createHash('sha256').update(verifierPem).digest('hex'),
    'brian@dehamer.com',
    `sha256:${dsseBody.spec.payloadHash.value}`,
    `sha256:${dsseBody.spec.envelopeHash.value}`,
    // The in-toto statement's subject digest (npm package sha512).
    'sha512:7bea9f6e7ff37f5fab0b36bf061200fff03099fd2fd696b91d04bc5e4f225eb9fd6e0cadcad54ba980f43fb352a99e8810b4e0abeb5c0ef2cf9108cd1f258b36',
  ]);
  const intoto = prepareEntry(proposedFor(byName('intoto-0.0.2-npm-provenance')), fast);
  assert.equal(intoto.indexKeys.length, 4);
  assert.ok(intoto.indexKeys.includes('brian@dehamer.com'));
  assert.ok(
    intoto.indexKeys.includes(`sha256:${JSON.parse(intoto.body.toString()).spec.content.payloadHash.value}`),
  );
});

test('production vectors: the signatures are really checked (one changed digest byte is rejected)', () => {
  const hr = proposedFor(byName('hashedrekord-github-wheel'));
  const v = hr.spec.data.hash.value as string;
  hr.spec.data.hash.value = (v[0] === '0' ? '1' : '0') + v.slice(1);
  assert.throws(() => prepareEntry(hr, fast), { code: 'INVALID_SIGNATURE' });
  assert.throws(() => prepareEntry(hr, referenceVerifier), { code: 'INVALID_SIGNATURE' });

  const dsse = byName('dsse-npm-provenance');
  const env = clone(dsse.bundleContent.dsseEnvelope!);
  env.payloadType = 'application/json';
  const p = proposedFor(dsse);
  p.spec.proposedContent.envelope = JSON.stringify(env);
  assert.throws(() => prepareEntry(p, fast), { code: 'INVALID_SIGNATURE' });
});

test('search mode: stored (canonical) bodies resubmitted as proposed entries reproduce themselves', () => {
  for (const e of ALL) {
    const stored = JSON.parse(bodyOf(e).toString('utf8'));
    const p = prepareEntry(stored, fast, { forSearch: true });
    assert.equal(p.leafHash.toString('hex'), e.leafHash, e.name);
  }
  // ... but only hashedrekord's stored form is also insertable.
  assert.throws(() => prepareEntry(JSON.parse(bodyOf(byName('dsse-npm-provenance')).toString()), fast), {
    code: 'INVALID_ENTRY',
    message: 'error processing entry: entry not insertable into log: missing proposed content',
  });
  assert.throws(
    () => prepareEntry(JSON.parse(bodyOf(byName('intoto-0.0.2-npm-provenance')).toString()), fast),
    {
      code: 'INVALID_ENTRY',
      message: 'error processing entry: entry not insertable into log: missing envelope content',
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Equivalent presentations

function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .reverse()
        .map(([k, x]) => [k, reverseKeys(x)]),
    );
  }
  return v;
}

function rewrap(pemText: string, width: number, eol: string): string {
  const out: string[] = [];
  for (const block of pemText.matchAll(/-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/g)) {
    const body = block[2]!.replace(/\s+/g, '');
    out.push(
      `-----BEGIN ${block[1]}-----`,
      ...(body.match(new RegExp(`.{1,${width}}`, 'g')) ?? []),
      `-----END ${block[1]}-----`,
    );
  }
  return out.join(eol);
}

test('equivalent inputs (key order, PEM wrapping, whitespace, base64 line breaks) give one leaf hash', () => {
  const e = byName('hashedrekord-github-wheel');
  const base = proposedFor(e);
  const certPem = unb64(base.spec.signature.publicKey.content);
  const variants: Array<[string, Record<string, any>]> = [];
  variants.push(['reversed key order', reverseKeys(base) as Record<string, any>]);
  const wrapped = clone(base);
  wrapped.spec.signature.publicKey.content = b64(`\n  ${rewrap(certPem, 76, '\r\n')}\r\n\n`);
  variants.push(['PEM at 76 columns with CRLF and surrounding whitespace', wrapped]);
  const broken = clone(base);
  broken.spec.signature.content = (base.spec.signature.content as string).replace(/(.{20})/g, '$1\n');
  broken.spec.signature.publicKey.content = (base.spec.signature.publicKey.content as string).replace(
    /(.{76})/g,
    '$1\r\n',
  );
  variants.push(['base64 with line breaks (Go ignores CR/LF)', broken]);
  const nulls = clone(base);
  nulls.spec.signature.publicKey = { content: base.spec.signature.publicKey.content };
  variants.push(['rebuilt objects', nulls]);
  for (const [what, input] of variants) {
    assert.equal(prepareEntry(input, fast).leafHash.toString('hex'), e.leafHash, what);
  }

  // sigstore-python sends unset optional dsse fields as null: same as absent.
  const d = byName('dsse-npm-provenance');
  const withNulls = proposedFor(d);
  Object.assign(withNulls.spec, { signatures: null, envelopeHash: null, payloadHash: null });
  assert.equal(prepareEntry(withNulls, fast).leafHash.toString('hex'), d.leafHash);

  // intoto: an empty keyid is omitted from the stored body, exactly like an absent one.
  const i = byName('intoto-0.0.2-npm-provenance');
  const withKeyid = proposedFor(i);
  withKeyid.spec.content.envelope.signatures[0].keyid = '';
  assert.equal(prepareEntry(withKeyid, fast).leafHash.toString('hex'), i.leafHash);
});

test('dsse: envelopeHash covers the envelope string exactly as submitted', () => {
  const d = byName('dsse-npm-provenance');
  const spaced = proposedFor(d);
  spaced.spec.proposedContent.envelope = JSON.stringify(d.bundleContent.dsseEnvelope, null, 2);
  const a = prepareEntry(proposedFor(d), fast);
  const b = prepareEntry(spaced, fast);
  assert.notEqual(a.leafHash.toString('hex'), b.leafHash.toString('hex'));
  assert.equal(
    JSON.parse(b.body.toString()).spec.envelopeHash.value,
    createHash('sha256').update(spaced.spec.proposedContent.envelope).digest('hex'),
  );
  assert.deepEqual(
    JSON.parse(a.body.toString()).spec.payloadHash,
    JSON.parse(b.body.toString()).spec.payloadHash,
  );
});

// ---------------------------------------------------------------------------------------------
// Fresh entries for every allowed algorithm pair

type Alg = 'sha256' | 'sha384' | 'sha512';

function spkiPem(k: KeyObject): string {
  return k.export({ type: 'spki', format: 'pem' }).toString();
}

function hashedrekord(opts: {
  privateKey: KeyObject;
  publicKeyPem: string;
  hash: Alg;
  artifact?: Buffer;
  signature?: Buffer;
  ed25519ph?: boolean;
}): Record<string, any> {
  const artifact = opts.artifact ?? Buffer.from('artifact bytes');
  const digest = createHash(opts.hash).update(artifact).digest();
  let sig = opts.signature;
  if (sig === undefined) {
    if (opts.ed25519ph) {
      const seed = Buffer.from(opts.privateKey.export({ format: 'jwk' }).d!, 'base64url');
      sig = Buffer.from(ed25519ph.sign(artifact, seed));
    } else {
      sig = sign(opts.hash, artifact, opts.privateKey);
    }
  }
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: opts.hash, value: digest.toString('hex') } },
      signature: { content: sig.toString('base64'), publicKey: { content: b64(opts.publicKeyPem) } },
    },
  };
}

test('hashedrekord: every allowed key/digest pair is accepted and canonicalized', () => {
  const cases: Array<[string, KeyObject, KeyObject, Alg, boolean]> = [];
  for (const [curve, hash] of [
    ['P-256', 'sha256'],
    ['P-384', 'sha384'],
    ['P-521', 'sha512'],
  ] as const) {
    const k = generateKeyPairSync('ec', { namedCurve: curve });
    cases.push([`ECDSA ${curve}`, k.publicKey, k.privateKey, hash, false]);
  }
  for (const bits of [2048, 3072, 4096]) {
    const k = generateKeyPairSync('rsa', { modulusLength: bits });
    cases.push([`RSA-${bits}`, k.publicKey, k.privateKey, 'sha256', false]);
  }
  const ed = generateKeyPairSync('ed25519');
  cases.push(['Ed25519ph', ed.publicKey, ed.privateKey, 'sha512', true]);

  for (const [what, pub, priv, hash, ph] of cases) {
    // A non-canonical PEM on the way in (wrapped at 76, CRLF) is re-encoded Go-style.
    const input = hashedrekord({
      privateKey: priv,
      publicKeyPem: rewrap(spkiPem(pub), 76, '\r\n'),
      hash,
      ed25519ph: ph,
    });
    for (const [name, v] of VERIFIERS) {
      const p = prepareEntry(input, v);
      const body = JSON.parse(p.body.toString());
      const canonicalPem = spkiPem(pub); // OpenSSL's PEM is Go-style too: 64 columns, final newline
      assert.equal(unb64(body.spec.signature.publicKey.content), canonicalPem, `${what} (${name})`);
      assert.equal(body.spec.signature.content, input.spec.signature.content);
      assert.equal(p.body.toString(), canonicalize(body));
      assert.equal(p.indexKeys[0], createHash('sha256').update(canonicalPem).digest('hex'));
      assert.equal(p.indexKeys.at(-1), `${hash}:${input.spec.data.hash.value}`);
    }
  }
});

test('hashedrekord: P1363 signatures and uppercase hex are stored as submitted', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const artifact = Buffer.from('p1363');
  const input = hashedrekord({
    privateKey,
    publicKeyPem: spkiPem(publicKey),
    hash: 'sha256',
    artifact,
    signature: sign('sha256', artifact, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  });
  input.spec.data.hash.value = (input.spec.data.hash.value as string).toUpperCase();
  const p = prepareEntry(input, fast);
  const body = JSON.parse(p.body.toString());
  assert.equal(body.spec.signature.content, input.spec.signature.content);
  assert.equal(Buffer.from(body.spec.signature.content, 'base64').length, 64);
  assert.equal(body.spec.data.hash.value, input.spec.data.hash.value);
  assert.ok(p.indexKeys.includes(`sha256:${(input.spec.data.hash.value as string).toLowerCase()}`));
});

test('hashedrekord: a certificate key with SANs gives lowercased SAN index keys', () => {
  const cert = buildCertificate({
    sans: [
      { email: 'Dev@Example.COM' },
      { uri: 'https://github.com/Org/Repo/.github/workflows/x.yml@refs/heads/main' },
    ],
  });
  const input = hashedrekord({ privateKey: cert.keys.privateKey, publicKeyPem: cert.pem, hash: 'sha256' });
  const p = prepareEntry(input, fast);
  assert.deepEqual(p.indexKeys.slice(1, 3), [
    'dev@example.com',
    'https://github.com/org/repo/.github/workflows/x.yml@refs/heads/main',
  ]);
  assert.equal(
    unb64(JSON.parse(p.body.toString()).spec.signature.publicKey.content),
    pemOf('CERTIFICATE', cert.der),
  );
});

// ---------------------------------------------------------------------------------------------
// dsse / intoto with fresh keys

function pae(type: string, payload: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `),
    payload,
  ]);
}

const STATEMENT = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v0.1',
    subject: [{ name: 'a', digest: { sha256: 'AB'.repeat(32) } }],
    predicateType: 'https://slsa.dev/provenance/v0.2',
    predicate: { materials: [{ uri: 'git+https://x', digest: { sha1: 'cd'.repeat(20) } }] },
  }),
);
const TYPE = 'application/vnd.in-toto+json';

test('dsse: multiple signers; signatures sorted by signature string with each verifying key', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');
  const msg = pae(TYPE, STATEMENT);
  const sigs = [
    { keyid: 'ec', sig: b64(sign('sha256', msg, ec.privateKey)) },
    { keyid: '', sig: b64(sign('sha256', msg, rsa.privateKey)) },
    { sig: b64(sign(null, msg, ed.privateKey)) },
  ];
  const envelope = JSON.stringify({ payload: b64(STATEMENT), payloadType: TYPE, signatures: sigs });
  const input = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      proposedContent: {
        envelope,
        verifiers: [ed.publicKey, ec.publicKey, rsa.publicKey].map((k) => b64(spkiPem(k))),
      },
    },
  };
  for (const [name, v] of VERIFIERS) {
    const p = prepareEntry(input, v);
    const spec = JSON.parse(p.body.toString()).spec;
    const expectedOrder = [...sigs].map((s) => s.sig).sort();
    assert.deepEqual(
      spec.signatures.map((s: { signature: string }) => s.signature),
      expectedOrder,
      name,
    );
    const keyFor = new Map([
      [sigs[0]!.sig, ec.publicKey],
      [sigs[1]!.sig, rsa.publicKey],
      [sigs[2]!.sig, ed.publicKey],
    ]);
    for (const s of spec.signatures) assert.equal(unb64(s.verifier), spkiPem(keyFor.get(s.signature)!));
    assert.equal(spec.payloadHash.value, createHash('sha256').update(STATEMENT).digest('hex'));
    assert.equal(spec.envelopeHash.value, createHash('sha256').update(envelope).digest('hex'));
    assert.ok(p.indexKeys.includes('sha256:' + 'ab'.repeat(32)), 'subject digest, lowercased');
    assert.ok(p.indexKeys.includes('sha1:' + 'cd'.repeat(20)), 'SLSA material digest');
  }
});

test('intoto: a fresh double-base64 entry keeps keys and signatures as submitted', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const msg = pae(TYPE, STATEMENT);
  const sig = b64(sign('sha256', msg, ec.privateKey));
  // A PEM without its final newline and wrapped at 76 columns: stored exactly like that.
  const keyPem = rewrap(spkiPem(ec.publicKey), 76, '\n');
  const input = {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: {
          payload: b64(b64(STATEMENT)),
          payloadType: TYPE,
          signatures: [{ keyid: 'k1', sig: b64(sig), publicKey: b64(keyPem) }],
        },
        hash: { algorithm: 'sha256', value: '12'.repeat(32) },
      },
    },
  };
  for (const [, v] of VERIFIERS) {
    const p = prepareEntry(input, v);
    assert.equal(
      p.body.toString(),
      canonicalize({
        apiVersion: '0.0.2',
        kind: 'intoto',
        spec: {
          content: {
            envelope: {
              payloadType: TYPE,
              signatures: [{ keyid: 'k1', publicKey: b64(keyPem), sig: b64(sig) }],
            },
            hash: { algorithm: 'sha256', value: '12'.repeat(32) },
            payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(STATEMENT).digest('hex') },
          },
        },
      }),
    );
    // The key hash index entry is over the canonical PEM, not the stored bytes.
    assert.equal(
      p.indexKeys[0],
      'sha256:' + createHash('sha256').update(spkiPem(ec.publicKey)).digest('hex'),
    );
  }
});
