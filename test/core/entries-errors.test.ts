/**
 * Entry kinds on bad input: one test per class of mistake or attack, asserting the error code
 * (which decides the HTTP status) and Rekor's message; then property tests that hostile JSON of
 * any shape only ever produces a VellumError with a client-error code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { prepareEntry, type PreparedEntry } from '../../src/core/entries';
import { createFastVerifier } from '../../src/crypto/fast-verifier';
import { VellumError, type ErrorCode } from '../../src/core/errors';
import { readVector } from '../support/paths';

const fast = createFastVerifier();
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const EPE = 'error processing entry: ';

function rejects(input: unknown, code: ErrorCode, message: string | RegExp, apiCode?: number): void {
  let err: unknown;
  try {
    prepareEntry(input, fast);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof VellumError, `expected a VellumError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (typeof message === 'string') assert.equal(err.message, message);
  else assert.match(err.message, message);
  if (apiCode !== undefined) assert.equal(err.details?.apiCode, apiCode);
}

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pemOf = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }).toString();
const ARTIFACT = Buffer.from('hello');
const DIGEST = createHash('sha256').update(ARTIFACT).digest('hex');

function validHashedRekord(): Record<string, any> {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: DIGEST } },
      signature: {
        content: b64(sign('sha256', ARTIFACT, ec.privateKey)),
        publicKey: { content: b64(pemOf(ec.publicKey)) },
      },
    },
  };
}

const TYPE = 'application/vnd.in-toto+json';
const PAYLOAD = Buffer.from('{"_type":"https://in-toto.io/Statement/v0.1","subject":[]}');
const PAE = Buffer.concat([Buffer.from(`DSSEv1 ${TYPE.length} ${TYPE} ${PAYLOAD.length} `), PAYLOAD]);

function envelope(sigs: Buffer[]): string {
  return JSON.stringify({
    payload: b64(PAYLOAD),
    payloadType: TYPE,
    signatures: sigs.map((s) => ({ keyid: '', sig: b64(s) })),
  });
}

function validDsse(): Record<string, any> {
  return {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      proposedContent: {
        envelope: envelope([sign('sha256', PAE, ec.privateKey)]),
        verifiers: [b64(pemOf(ec.publicKey))],
      },
    },
  };
}

function validIntoto(): Record<string, any> {
  const sig = b64(sign('sha256', PAE, ec.privateKey));
  return {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: {
          payload: b64(b64(PAYLOAD)),
          payloadType: TYPE,
          signatures: [{ sig: b64(sig), publicKey: b64(pemOf(ec.publicKey)) }],
        },
        hash: { algorithm: 'sha256', value: 'ab'.repeat(32) },
      },
    },
  };
}

test('the valid baselines used below are accepted (so each rejection is caused by its mutation)', () => {
  for (const input of [validHashedRekord(), validDsse(), validIntoto()]) {
    const p: PreparedEntry = prepareEntry(input, fast);
    assert.equal(p.leafHash.length, 32);
  }
});

test('malformed ProposedEntry envelope: 422 SCHEMA_VIOLATION with go-openapi codes', () => {
  rejects(null, 'SCHEMA_VIOLATION', 'proposedEntry in body is required', 602);
  rejects([], 'SCHEMA_VIOLATION', 'proposedEntry in body must be of type object: "array"', 601);
  rejects('hashedrekord', 'SCHEMA_VIOLATION', 'proposedEntry in body must be of type object: "string"', 601);
  rejects({ apiVersion: '0.0.1', spec: {} }, 'SCHEMA_VIOLATION', 'kind in body is required', 602);
  rejects(
    { kind: 7, apiVersion: '0.0.1', spec: {} },
    'SCHEMA_VIOLATION',
    'kind in body must be of type string: "integer"',
    601,
  );
  rejects({ kind: 'hashedrekord', spec: {} }, 'SCHEMA_VIOLATION', 'apiVersion in body is required', 602);
  rejects(
    { kind: 'hashedrekord', apiVersion: 1, spec: {} },
    'SCHEMA_VIOLATION',
    'apiVersion in body must be of type string: "integer"',
    601,
  );
  rejects(
    { kind: 'hashedrekord', apiVersion: 'v1', spec: {} },
    'SCHEMA_VIOLATION',
    /^apiVersion in body should match '/,
    605,
  );
  rejects({ kind: 'hashedrekord', apiVersion: '0.0.1' }, 'SCHEMA_VIOLATION', 'spec in body is required', 602);
  rejects(
    { kind: 'hashedrekord', apiVersion: '0.0.1', spec: null },
    'SCHEMA_VIOLATION',
    'spec in body is required',
    602,
  );
  rejects(
    { kind: 'hashedrekord', apiVersion: '0.0.1', spec: [1] },
    'SCHEMA_VIOLATION',
    'spec in body must be of type object: "array"',
    601,
  );
});

test('malformed types inside spec: 400 INVALID_ENTRY naming the field', () => {
  const cases: Array<[(e: Record<string, any>) => void, () => Record<string, any>, string]> = [
    [
      (e) => (e.spec.data.hash.algorithm = 256),
      validHashedRekord,
      'data.hash.algorithm in body must be of type string: "integer"',
    ],
    [
      (e) => (e.spec.signature = 'sig'),
      validHashedRekord,
      'signature in body must be of type object: "string"',
    ],
    [
      (e) => (e.spec.data.hash = [DIGEST]),
      validHashedRekord,
      'data.hash in body must be of type object: "array"',
    ],
    [
      (e) => (e.spec.signature.publicKey.content = { pem: 1 }),
      validHashedRekord,
      'signature.publicKey.content in body must be of type string: "object"',
    ],
    [
      (e) => (e.spec.proposedContent.verifiers = 'x'),
      validDsse,
      'proposedContent.verifiers in body must be of type array: "string"',
    ],
    [
      (e) => (e.spec.proposedContent.verifiers = [true]),
      validDsse,
      'proposedContent.verifiers.0 in body must be of type string: "boolean"',
    ],
    [
      (e) => (e.spec.proposedContent.envelope = { payload: '' }),
      validDsse,
      'proposedContent.envelope in body must be of type string: "object"',
    ],
    [
      (e) => (e.spec.content.envelope.signatures[0].sig = 1.5),
      validIntoto,
      'content.envelope.signatures.0.sig in body must be of type string: "number"',
    ],
  ];
  for (const [mutate, make, message] of cases) {
    const e = make();
    mutate(e);
    rejects(e, 'INVALID_ENTRY', EPE + message);
  }
});

test('unknown fields are rejected with the field named (top level 422, inside spec 400)', () => {
  rejects(
    { ...validHashedRekord(), extra: 1 },
    'SCHEMA_VIOLATION',
    'extra in body is a forbidden property',
    616,
  );
  const a = validHashedRekord();
  a.spec.data.hash.foo = 'bar';
  rejects(a, 'INVALID_ENTRY', EPE + 'data.hash.foo in body is a forbidden property');
  const b = validDsse();
  b.spec.proposedContent.publicKeys = [];
  rejects(b, 'INVALID_ENTRY', EPE + 'proposedContent.publicKeys in body is a forbidden property');
  const c = validIntoto();
  c.spec.content.envelope.signatures[0].extra = null; // even null: an unknown name is never dropped silently
  rejects(c, 'INVALID_ENTRY', EPE + 'content.envelope.signatures.0.extra in body is a forbidden property');
  const d = validHashedRekord();
  d.spec.__proto__x = 1;
  rejects(d, 'INVALID_ENTRY', EPE + '__proto__x in body is a forbidden property');
  // A JSON "__proto__" member is an own property after JSON.parse, and is just another unknown name.
  rejects(
    JSON.parse(`{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"__proto__":{"data":1}}}`),
    'INVALID_ENTRY',
    EPE + '__proto__ in body is a forbidden property',
  );
});

test('wrong kind or version', () => {
  rejects({ ...validHashedRekord(), kind: 'foo' }, 'UNSUPPORTED_KIND', 'invalid kind value: "foo"');
  rejects(
    { ...validHashedRekord(), kind: 'x'.repeat(100_000) },
    'UNSUPPORTED_KIND',
    /^invalid kind value: "x{128}\.\.\."$/,
  );
  rejects(
    { ...validHashedRekord(), kind: 'rekord' },
    'INVALID_ENTRY',
    EPE + "entry kind 'rekord' is not enabled for submission on this server",
  );
  rejects(
    { ...validHashedRekord(), apiVersion: '0.0.2' },
    'UNSUPPORTED_VERSION',
    EPE +
      "hashedrekord implementation for version '0.0.2' not found: unable to locate entry for version 0.0.2",
  );
  rejects(
    { ...validIntoto(), apiVersion: '0.0.1' },
    'UNSUPPORTED_VERSION',
    /intoto implementation for version '0\.0\.1' not found/,
  );
  rejects({ ...validDsse(), apiVersion: 'toString' }, 'SCHEMA_VIOLATION', /should match/);
});

test('bad base64 (Go CorruptInputError offsets)', () => {
  const cases: Array<[Record<string, any>, (e: Record<string, any>) => void, string]> = [
    [
      validHashedRekord(),
      (e) => (e.spec.signature.content = 'MEU!'),
      'signature content: illegal base64 data at input byte 3',
    ],
    [
      validHashedRekord(),
      (e) => (e.spec.signature.publicKey.content = 'abc'),
      'public key content: illegal base64 data at input byte 0',
    ],
    [
      validDsse(),
      (e) => (e.spec.proposedContent.verifiers = ['ab==cd']),
      'verifier: illegal base64 data at input byte 4',
    ],
    [
      validIntoto(),
      (e) => (e.spec.content.envelope.payload = '%%%%'),
      'content.envelope.payload: illegal base64 data at input byte 0',
    ],
  ];
  for (const [entry, corrupt, message] of cases) {
    corrupt(entry);
    rejects(entry, 'INVALID_ENTRY', EPE + 'failed parsing base64 data for ' + message);
  }
  // The envelope's own base64 (inner layer) fails inside DSSE verification.
  const e = validDsse();
  e.spec.proposedContent.envelope = JSON.stringify({
    payload: '***',
    payloadType: TYPE,
    signatures: [{ sig: 'AAAA' }],
  });
  rejects(
    e,
    'INVALID_ENTRY',
    EPE + 'could not verify envelope: unable to base64 decode payload (is payload in the right format?)',
  );
});

test('bad PEM and bad keys', () => {
  const withKey = (content: string): Record<string, any> => {
    const e = validHashedRekord();
    e.spec.signature.publicKey.content = b64(content);
    return e;
  };
  rejects(withKey('not a pem'), 'INVALID_ENTRY', EPE + 'invalid public key: failure decoding PEM');
  rejects(withKey(''), 'INVALID_ENTRY', EPE + 'invalid public key: failure decoding PEM');
  rejects(
    withKey(`-----BEGIN PUBLIC KEY-----\nMFkw\n`),
    'INVALID_ENTRY',
    EPE + 'invalid public key: failure decoding PEM',
  );
  const der = ec.publicKey.export({ type: 'spki', format: 'der' });
  const rsaPem = (type: string, body: Buffer): string =>
    `-----BEGIN ${type}-----\n${body.toString('base64')}\n-----END ${type}-----\n`;
  rejects(
    withKey(rsaPem('RSA PUBLIC KEY', der)),
    'INVALID_ENTRY',
    EPE + 'invalid public key: cannot handle type RSA PUBLIC KEY',
  );
  rejects(
    withKey(rsaPem('PUBLIC KEY', der.subarray(0, 40))),
    'INVALID_ENTRY',
    EPE + 'x509: failed to parse public key',
  );
  rejects(withKey(rsaPem('CERTIFICATE', der)), 'INVALID_ENTRY', EPE + 'x509: malformed certificate');
  rejects(
    withKey(rsaPem('PUBLIC KEY', der) + rsaPem('PUBLIC KEY', der)),
    'INVALID_ENTRY',
    EPE + 'x509: malformed certificate',
  );
  rejects(
    withKey(rsaPem('CERTIFICATE', der).repeat(11)),
    'INVALID_ENTRY',
    EPE + 'too many certificates specified in PEM block',
  );
  const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  rejects(withKey(pemOf(k1.publicKey)), 'INVALID_ENTRY', EPE + 'x509: unsupported elliptic curve');
  const small = generateKeyPairSync('rsa', { modulusLength: 512 });
  rejects(withKey(pemOf(small.publicKey)), 'INVALID_ENTRY', EPE + 'x509: unsupported RSA key size 512');
  const ed448 = generateKeyPairSync('ed448');
  rejects(withKey(pemOf(ed448.publicKey)), 'INVALID_ENTRY', EPE + 'x509: unknown public key algorithm');
  // A compressed EC point decodes in OpenSSL but is not a key Go parses (nor a canonical one).
  const jwk = ec.publicKey.export({ format: 'jwk' });
  const y = Buffer.from(jwk.y!, 'base64url');
  const compressed = Buffer.concat([
    Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'),
    Buffer.from([(y[31]! & 1) === 1 ? 3 : 2]),
    Buffer.from(jwk.x!, 'base64url'),
  ]);
  rejects(
    withKey(rsaPem('PUBLIC KEY', compressed)),
    'INVALID_ENTRY',
    EPE + 'x509: failed to parse public key',
  );
  // dsse/intoto wrap key errors.
  const d = validDsse();
  d.spec.proposedContent.verifiers = [b64('garbage')];
  rejects(
    d,
    'INVALID_ENTRY',
    EPE + 'could not parse public key as x509: invalid public key: failure decoding PEM',
  );
});

test('wrong signature: INVALID_SIGNATURE with the text of the key type', () => {
  const other = Buffer.from('other');
  const a = validHashedRekord();
  a.spec.signature.content = b64(sign('sha256', other, ec.privateKey));
  rejects(
    a,
    'INVALID_SIGNATURE',
    EPE + 'verifying signature: invalid signature when validating ASN.1 encoded signature',
  );
  const b = validHashedRekord();
  b.spec.signature.content = b64(sign('sha256', other, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }));
  rejects(
    b,
    'INVALID_SIGNATURE',
    EPE + 'verifying signature: invalid signature when validating IEEE_P1363 encoded signature',
  );
  const c = validHashedRekord();
  c.spec.signature.content = b64(Buffer.alloc(133, 1));
  rejects(c, 'INVALID_SIGNATURE', EPE + 'verifying signature: ecdsa: invalid IEEE_P1363 encoded bytes');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const d = validHashedRekord();
  d.spec.signature = {
    content: b64(sign('sha256', other, rsa.privateKey)),
    publicKey: { content: b64(pemOf(rsa.publicKey)) },
  };
  rejects(d, 'INVALID_SIGNATURE', EPE + 'verifying signature: crypto/rsa: verification error');
  const ed = generateKeyPairSync('ed25519');
  const e = validHashedRekord();
  e.spec.data.hash = { algorithm: 'sha512', value: createHash('sha512').update(ARTIFACT).digest('hex') };
  e.spec.signature = {
    content: b64(sign(null, ARTIFACT, ed.privateKey)),
    publicKey: { content: b64(pemOf(ed.publicKey)) },
  };
  rejects(
    e,
    'INVALID_SIGNATURE',
    EPE + 'verifying signature: failed to verify signature: ed25519: invalid signature',
  );
});

test('digest length and hex', () => {
  const at = (alg: string, value: string): Record<string, any> => {
    const e = validHashedRekord();
    e.spec.data.hash = { algorithm: alg, value };
    return e;
  };
  rejects(at('sha256', DIGEST.slice(2)), 'INVALID_ENTRY', EPE + 'invalid value for hash');
  rejects(at('sha384', DIGEST), 'INVALID_ENTRY', EPE + 'invalid value for hash');
  rejects(at('sha512', DIGEST + DIGEST.slice(2)), 'INVALID_ENTRY', EPE + 'invalid value for hash');
  rejects(
    at('sha256', 'z' + DIGEST.slice(1)),
    'INVALID_ENTRY',
    EPE + "encoding/hex: invalid byte: U+007A 'z'",
  );
  // Length is counted in UTF-8 bytes, as Go does: 62 hex digits + "é" (2 bytes) is 64 bytes.
  rejects(at('sha256', DIGEST.slice(2) + 'é'), 'INVALID_ENTRY', EPE + 'encoding/hex: invalid byte: U+00C3');
  rejects(
    at('md5', DIGEST),
    'INVALID_ENTRY',
    EPE + 'data.hash.algorithm in body should be one of [sha256 sha384 sha512]',
  );
  rejects(at('sha256', undefined as never), 'INVALID_ENTRY', EPE + 'data.hash.value in body is required');
  const e = validHashedRekord();
  delete e.spec.data;
  rejects(e, 'INVALID_ENTRY', EPE + 'data in body is required');
  const f = validHashedRekord();
  delete f.spec.signature;
  rejects(f, 'INVALID_ENTRY', EPE + 'signature in body is required');
  const g = validHashedRekord();
  delete g.spec.signature.publicKey;
  rejects(g, 'INVALID_ENTRY', EPE + 'missing public key');
});

test('disallowed algorithm pairs: verified, then refused by policy', () => {
  const make = (
    priv: KeyObject,
    pub: KeyObject,
    hash: 'sha256' | 'sha384' | 'sha512',
  ): Record<string, any> => ({
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: hash, value: createHash(hash).update(ARTIFACT).digest('hex') } },
      signature: { content: b64(sign(hash, ARTIFACT, priv)), publicKey: { content: b64(pemOf(pub)) } },
    },
  });
  const msg = EPE + 'entry algorithms are not allowed';
  rejects(make(ec.privateKey, ec.publicKey, 'sha512'), 'INVALID_SIGNATURE', msg);
  rejects(make(ec.privateKey, ec.publicKey, 'sha384'), 'INVALID_SIGNATURE', msg);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  rejects(make(p384.privateKey, p384.publicKey, 'sha256'), 'INVALID_SIGNATURE', msg);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  rejects(make(rsa.privateKey, rsa.publicKey, 'sha512'), 'INVALID_SIGNATURE', msg);
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  rejects(make(rsa1024.privateKey, rsa1024.publicKey, 'sha256'), 'INVALID_SIGNATURE', msg);
  const rsa2304 = generateKeyPairSync('rsa', { modulusLength: 2304 });
  rejects(make(rsa2304.privateKey, rsa2304.publicKey, 'sha256'), 'INVALID_SIGNATURE', msg);
});

test('dsse: unverified, unverifiable and missing signatures', () => {
  const second = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const s1 = sign('sha256', PAE, ec.privateKey);
  const s2 = sign('sha256', PAE, second.privateKey);
  const a = validDsse();
  a.spec.proposedContent.envelope = envelope([s1, s2]);
  rejects(a, 'INVALID_SIGNATURE', EPE + 'all signatures must have a key that verifies it');
  // A verifier that verifies nothing is an error, not a no-op (go-securesystemslib threshold).
  const b = validDsse();
  b.spec.proposedContent.verifiers = [b64(pemOf(second.publicKey)), b64(pemOf(ec.publicKey))];
  rejects(
    b,
    'INVALID_SIGNATURE',
    EPE + 'could not verify envelope: accepted signatures do not match threshold, Found: 0, Expected 1',
  );
  // ... unless every signature is already accepted: later verifiers are then never looked at.
  const c = validDsse();
  c.spec.proposedContent.verifiers = [b64(pemOf(ec.publicKey)), b64('never parsed')];
  prepareEntry(c, fast);
  // A key accepts at most one signature per Verify call, and always the first it verifies in
  // envelope order; so two distinct signatures by one key can never both be accepted, not even
  // with the key listed twice (both listings accept the first one). Rekor behaves the same.
  const twice = sign('sha256', PAE, ec.privateKey);
  const d = validDsse();
  d.spec.proposedContent.envelope = envelope([s1, twice]);
  rejects(d, 'INVALID_SIGNATURE', EPE + 'all signatures must have a key that verifies it');
  d.spec.proposedContent.verifiers = [b64(pemOf(ec.publicKey)), b64(pemOf(ec.publicKey))];
  rejects(d, 'INVALID_SIGNATURE', EPE + 'all signatures must have a key that verifies it');
  // The same signature string twice is one signature.
  d.spec.proposedContent.envelope = envelope([s1, s1]);
  d.spec.proposedContent.verifiers = [b64(pemOf(ec.publicKey))];
  assert.equal(JSON.parse(prepareEntry(d, fast).body.toString()).spec.signatures.length, 1);

  const empty = validDsse();
  empty.spec.proposedContent.envelope = envelope([]);
  rejects(empty, 'INVALID_ENTRY', EPE + 'DSSE envelope must contain 1 or more signatures');
  const noVerifiers = validDsse();
  noVerifiers.spec.proposedContent.verifiers = [];
  rejects(
    noVerifiers,
    'INVALID_ENTRY',
    EPE + 'proposedContent.verifiers in body should have at least 1 items',
  );
  const both = validDsse();
  both.spec.payloadHash = { algorithm: 'sha256', value: 'ab'.repeat(32) };
  rejects(
    both,
    'INVALID_ENTRY',
    EPE + 'either proposedContent or envelopeHash, payloadHash, and signatures must be present but not both',
  );
  rejects(
    { ...validDsse(), spec: {} },
    'INVALID_ENTRY',
    EPE + 'either proposedContent or envelopeHash, payloadHash, and signatures must be present',
  );
  const notJson = validDsse();
  notJson.spec.proposedContent.envelope = '{"payload":';
  rejects(notJson, 'INVALID_ENTRY', /^error processing entry: invalid DSSE envelope JSON: /);
  const wrongType = validDsse();
  wrongType.spec.proposedContent.envelope = JSON.stringify({ payload: 5, payloadType: TYPE, signatures: [] });
  rejects(
    wrongType,
    'INVALID_ENTRY',
    EPE + 'json: cannot unmarshal integer into Go struct field Envelope.payload of type string',
  );
  const tooMany = validDsse();
  tooMany.spec.proposedContent.envelope = envelope(Array.from({ length: 17 }, () => s1));
  rejects(tooMany, 'INVALID_ENTRY', /too many signatures/);
});

test('empty signatures in every kind', () => {
  const a = validHashedRekord();
  a.spec.signature.content = '';
  rejects(a, 'INVALID_SIGNATURE', EPE + 'verifying signature: X509 signature has not been initialized');
  const b = validIntoto();
  b.spec.content.envelope.signatures = [];
  rejects(b, 'INVALID_ENTRY', EPE + 'content.envelope.signatures in body should have at least 1 items');
  const c = validIntoto();
  c.spec.content.envelope.signatures[0].sig = '';
  rejects(
    c,
    'INVALID_SIGNATURE',
    /^error processing entry: could not verify envelope: accepted signatures do not match threshold/,
  );
  const d = validDsse();
  d.spec.proposedContent.envelope = JSON.stringify({
    payload: b64(PAYLOAD),
    payloadType: TYPE,
    signatures: [{ sig: '' }],
  });
  rejects(d, 'INVALID_SIGNATURE', /^error processing entry: could not verify envelope/);
});

test('intoto: required fields, insertability and the client-supplied hash', () => {
  const a = validIntoto();
  delete a.spec.content.hash;
  rejects(a, 'INVALID_ENTRY', EPE + 'missing envelope digest');
  const b = validIntoto();
  b.spec.content.hash.value = 'not hex';
  rejects(b, 'INVALID_ENTRY', EPE + "content.hash.value in body should match '^[0-9a-fA-F]{64}$'");
  const c = validIntoto();
  c.spec.content.hash.algorithm = 'sha512';
  rejects(c, 'INVALID_ENTRY', EPE + 'content.hash.algorithm in body should be one of [sha256]');
  const d = validIntoto();
  delete d.spec.content.envelope.payload;
  rejects(d, 'INVALID_ENTRY', EPE + 'entry not insertable into log: missing envelope content');
  const e = validIntoto();
  delete e.spec.content.envelope.payloadType;
  rejects(e, 'INVALID_ENTRY', EPE + 'content.envelope.payloadType in body is required');
  rejects({ ...validIntoto(), spec: {} }, 'INVALID_ENTRY', EPE + 'content in body is required');
  // The keyid is not covered by any signature, but it is stored: text without a UTF-8 form is refused.
  const f = validIntoto();
  f.spec.content.envelope.signatures[0].keyid = '\ud800';
  rejects(f, 'INVALID_ENTRY', EPE + 'entry contains a string that is not valid Unicode');
  // A payload that only decodes with DSSE's URL-safe fallback verifies, but Rekor hashes StdEncoding.
  const urlPayload = Buffer.from([0xfb, 0xff]); // "+/8=" in standard base64, "-_8=" URL-safe
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${TYPE.length} ${TYPE} 2 `), urlPayload]);
  const g = validIntoto();
  g.spec.content.envelope.payload = b64('-_8=');
  g.spec.content.envelope.signatures[0].sig = b64(b64(sign('sha256', pae, ec.privateKey)));
  rejects(g, 'INVALID_ENTRY', EPE + 'could not decode envelope payload: illegal base64 data at input byte 0');
});

// ---------------------------------------------------------------------------------------------
// Hostile input of any shape

const CLIENT_CODES = new Set<ErrorCode>([
  'SCHEMA_VIOLATION',
  'UNSUPPORTED_KIND',
  'UNSUPPORTED_VERSION',
  'INVALID_ENTRY',
  'INVALID_SIGNATURE',
]);

function onlyClientErrors(input: unknown): void {
  try {
    prepareEntry(input, fast);
  } catch (e) {
    if (!(e instanceof VellumError)) throw new Error(`non-VellumError escaped: ${String(e)}`);
    if (!CLIENT_CODES.has(e.code))
      throw new Error(`unexpected code ${e.code}: ${e.message} ${JSON.stringify(e.details)}`);
  }
}

/** Every path to a value inside `v` (objects and arrays). */
function paths(v: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

function replaceAt(v: unknown, path: Array<string | number>, value: unknown): unknown {
  if (path.length === 0) return value;
  const copy: any = clone(v);
  let cur = copy;
  for (const p of path.slice(0, -1)) cur = cur[p];
  cur[path[path.length - 1]!] = value;
  return copy;
}

const vectors = readVector<{ entries: Array<{ logEntry: Record<string, { body: string }> }> }>(
  'rekor-production.json',
);
const SEEDS: unknown[] = [
  validHashedRekord(),
  validDsse(),
  validIntoto(),
  ...vectors.entries.map((e) =>
    JSON.parse(Buffer.from(Object.values(e.logEntry)[0]!.body, 'base64').toString()),
  ),
];

test('property: replacing any subtree of a valid entry with arbitrary JSON only yields client errors', () => {
  const weird = fc.oneof(
    fc.jsonValue(),
    fc.constantFrom(
      null,
      '',
      '=',
      '====',
      'AAAA',
      '-----BEGIN CERTIFICATE-----',
      [],
      {},
      [null],
      1e308,
      -0,
      '\u0000',
      '\ud800',
    ),
    fc.string({ maxLength: 300 }).map((s) => Buffer.from(s).toString('base64')),
  );
  fc.assert(
    fc.property(fc.nat(SEEDS.length - 1), fc.nat(), weird, (seedIdx, pathIdx, value) => {
      const seed = SEEDS[seedIdx]!;
      const all = paths(seed);
      onlyClientErrors(replaceAt(seed, all[pathIdx % all.length]!, value));
    }),
    { numRuns: 3000 },
  );
});

test('property: arbitrary values and objects with the right kind only yield client errors', () => {
  fc.assert(
    fc.property(
      fc.anything({ maxDepth: 4 }),
      fc.constantFrom('hashedrekord', 'dsse', 'intoto', 'rekord', 'x'),
      fc.constantFrom('0.0.1', '0.0.2'),
      (spec, kind, apiVersion) => {
        onlyClientErrors(spec);
        onlyClientErrors({ kind, apiVersion, spec });
      },
    ),
    { numRuns: 1000 },
  );
});

test('huge inputs fail fast with bounded messages', () => {
  const big = 'A'.repeat(4 << 20);
  const a = validHashedRekord();
  a.spec.signature.publicKey.content = big; // 3 MiB of zero bytes: not PEM
  const t0 = Date.now();
  rejects(a, 'INVALID_ENTRY', EPE + 'invalid public key: failure decoding PEM');
  const b = validDsse();
  b.spec.proposedContent.envelope = `"${big}"`;
  rejects(b, 'INVALID_ENTRY', EPE + 'json: cannot unmarshal string into Go value of type dsse.Envelope');
  const c = validHashedRekord();
  c.spec.data.hash.value = big;
  rejects(c, 'INVALID_ENTRY', EPE + 'invalid value for hash');
  assert.ok(Date.now() - t0 < 3000, 'took too long');
});
