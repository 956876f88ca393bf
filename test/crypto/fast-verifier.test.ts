/**
 * The fast verifier (native addon + node:crypto) against the pure-JS reference. Every case runs
 * through both and asserts they agree AND agree with the expected answer, so a verifier that
 * accepted everything (or rejected everything) fails here, not just one that differs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { ed25519ph } from '@noble/curves/ed25519';
import { p256 } from '@noble/curves/nist';
import { createFastVerifier } from '../../src/crypto/fast-verifier';
import { loadDigestAddon, digestAddonUnavailableReason } from '../../src/crypto/native';
import {
  referenceVerifier,
  ecdsaSignatureForm,
  ecdsaSignatureToDer,
  type DigestAlgorithm,
  type SignatureVerifier,
} from '../../src/core/entries/verifier';
import { parseSpki, type ArtifactKey } from '../../src/core/x509';
import { repoRoot } from '../support/paths';

const fast = createFastVerifier();
const fastNoAddon = createFastVerifier({ addon: null });
const VERIFIERS: ReadonlyArray<[string, SignatureVerifier]> = [
  ['reference', referenceVerifier],
  ['fast', fast],
  ['fast without addon', fastNoAddon],
];

function keyOf(publicKey: KeyObject): ArtifactKey {
  return parseSpki(publicKey.export({ type: 'spki', format: 'der' }));
}

const digestOf = (hash: DigestAlgorithm, msg: Buffer): Buffer => createHash(hash).update(msg).digest();

function expectDigest(
  key: ArtifactKey,
  hash: DigestAlgorithm,
  digest: Buffer,
  sig: Buffer,
  expected: boolean,
  what: string,
): void {
  for (const [name, v] of VERIFIERS) {
    assert.equal(v.verifyDigest(key, hash, digest, sig), expected, `${name}: ${what}`);
  }
}

function expectMessage(key: ArtifactKey, msg: Buffer, sig: Buffer, expected: boolean, what: string): void {
  for (const [name, v] of VERIFIERS) {
    assert.equal(v.verifyMessage(key, msg, sig), expected, `${name}: ${what}`);
  }
}

function flip(b: Buffer, i: number, bit = 1): Buffer {
  const c = Buffer.from(b);
  c[i % c.length]! ^= bit;
  return c;
}

test('the native addon is built, loads and passes its self-test', () => {
  assert.equal(digestAddonUnavailableReason(), null);
  const addon = loadDigestAddon();
  assert.ok(addon);
  assert.match(addon.opensslVersion(), /^OpenSSL 3\./);
});

const CURVES: ReadonlyArray<['P-256' | 'P-384' | 'P-521', DigestAlgorithm]> = [
  ['P-256', 'sha256'],
  ['P-384', 'sha384'],
  ['P-521', 'sha512'],
];

for (const [curve, hash] of CURVES) {
  test(`ECDSA ${curve}: digest and message signatures, DER and P1363, corrupted variants`, () => {
    for (let round = 0; round < 3; round++) {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const key = keyOf(publicKey);
      const msg = randomBytes(1 + round * 50);
      const digest = digestOf(hash, msg);
      const der = sign(hash, msg, { key: privateKey, dsaEncoding: 'der' });
      const p1363 = sign(hash, msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      assert.equal(ecdsaSignatureForm(der), 'asn1');
      assert.equal(ecdsaSignatureForm(p1363), 'p1363');
      expectDigest(key, hash, digest, der, true, 'valid DER');
      expectDigest(key, hash, digest, p1363, true, 'valid P1363');
      expectDigest(key, hash, flip(digest, round), der, false, 'digest with a flipped bit');
      expectDigest(
        key,
        hash,
        digest,
        flip(der, der.length - 1 - round),
        false,
        'DER with a flipped bit in s',
      );
      expectDigest(key, hash, digest, flip(p1363, 3 + round), false, 'P1363 with a flipped bit in r');
      expectDigest(
        key,
        hash,
        digest,
        Buffer.concat([der, Buffer.from([0])]),
        false,
        'DER with a trailing byte',
      );
      expectDigest(key, hash, digest, p1363.subarray(1), false, 'odd-length P1363');
      expectDigest(key, hash, digest, Buffer.alloc(0), false, 'empty signature');
      expectDigest(key, hash, digest.subarray(1), der, false, 'short digest');

      // DSSE: SHA-256 over the message whatever the curve (Go loads every verifier with SHA-256).
      const msgDer = sign('sha256', msg, { key: privateKey, dsaEncoding: 'der' });
      const msgP1363 = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      expectMessage(key, msg, msgDer, true, 'message DER');
      expectMessage(key, msg, msgP1363, true, 'message P1363');
      expectMessage(key, flip(msg, 0), msgDer, false, 'altered message');
      if (hash !== 'sha256') {
        expectMessage(key, msg, der, false, `message signed with ${hash} instead of sha256`);
      }
    }
  });
}

test('ECDSA: high-S signatures and zero-padded P1363 halves verify (Go accepts both)', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = keyOf(publicKey);
  const msg = randomBytes(40);
  const digest = digestOf('sha256', msg);
  const p1363 = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  const r = BigInt('0x' + p1363.subarray(0, 32).toString('hex'));
  const s = BigInt('0x' + p1363.subarray(32).toString('hex'));
  const highS = p256.CURVE.n - s;
  const hex = (x: bigint, len: number): Buffer => Buffer.from(x.toString(16).padStart(len * 2, '0'), 'hex');
  const negated = Buffer.concat([hex(r, 32), hex(highS, 32)]);
  expectDigest(key, 'sha256', digest, negated, true, 'high-S P1363');
  expectDigest(key, 'sha256', digest, ecdsaSignatureToDer(negated)!, true, 'high-S DER');
  // Go splits any even-length P1363 blob in half and reads big-endian integers.
  const padded = Buffer.concat([hex(r, 66), hex(s, 66)]);
  expectDigest(key, 'sha256', digest, padded, true, '132-byte zero-padded P1363');
  expectDigest(
    key,
    'sha256',
    digest,
    Buffer.concat([padded, Buffer.alloc(2)]),
    false,
    'P1363 longer than 132 bytes',
  );
  // r = 0 or s = n can never verify.
  expectDigest(key, 'sha256', digest, Buffer.concat([hex(0n, 32), hex(s, 32)]), false, 'r = 0');
  expectDigest(key, 'sha256', digest, Buffer.concat([hex(r, 32), hex(p256.CURVE.n, 32)]), false, 's = n');
});

test('ECDSA: a digest longer than the curve order is truncated identically by both paths', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = keyOf(publicKey);
  const msg = randomBytes(20);
  // OpenSSL's sign truncates the SHA-512 digest to 256 bits; both verifiers must do the same.
  const sig = sign('sha512', msg, privateKey);
  expectDigest(key, 'sha512', digestOf('sha512', msg), sig, true, 'P-256 over a SHA-512 digest');
  expectDigest(key, 'sha384', digestOf('sha384', msg), sig, false, 'P-256 over a different digest');
});

for (const bits of [2048, 3072, 4096]) {
  test(`RSA-${bits} PKCS#1 v1.5: every digest algorithm, message verification, corruption`, () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    const key = keyOf(publicKey);
    assert.equal(key.bits, bits);
    const msg = randomBytes(33);
    for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
      const sig = sign(hash, msg, privateKey);
      expectDigest(key, hash, digestOf(hash, msg), sig, true, `valid ${hash}`);
      expectDigest(key, hash, flip(digestOf(hash, msg), 7), sig, false, `${hash} digest corrupted`);
      expectDigest(key, hash, digestOf(hash, msg), flip(sig, 100), false, `${hash} signature corrupted`);
      // The DigestInfo names the algorithm: the same bytes under another algorithm must fail.
      if (hash !== 'sha256')
        expectDigest(key, 'sha256', digestOf('sha256', msg), sig, false, `${hash} sig as sha256`);
    }
    const sig = sign('sha256', msg, privateKey);
    expectDigest(key, 'sha256', digestOf('sha256', msg), sig.subarray(1), false, 'signature one byte short');
    expectDigest(
      key,
      'sha256',
      digestOf('sha256', msg),
      Buffer.concat([Buffer.from([0]), sig]),
      false,
      'signature one byte long',
    );
    expectMessage(key, msg, sig, true, 'message');
    expectMessage(key, flip(msg, 3), sig, false, 'altered message');
  });
}

test('Ed25519: Ed25519ph over a SHA-512 digest for hashedrekord, pure Ed25519 for messages', () => {
  for (let round = 0; round < 3; round++) {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const key = keyOf(publicKey);
    const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
    const msg = randomBytes(10 + round);
    const phSig = Buffer.from(ed25519ph.sign(msg, seed));
    const digest = digestOf('sha512', msg);
    expectDigest(key, 'sha512', digest, phSig, true, 'Ed25519ph');
    expectDigest(key, 'sha512', flip(digest, 5), phSig, false, 'Ed25519ph altered digest');
    expectDigest(key, 'sha512', digest, flip(phSig, 40), false, 'Ed25519ph altered signature');
    expectDigest(key, 'sha256', digestOf('sha256', msg), phSig, false, 'Ed25519ph exists only with SHA-512');
    const pure = sign(null, msg, privateKey);
    expectDigest(key, 'sha512', digest, pure, false, 'a pure Ed25519 signature is not Ed25519ph');
    expectMessage(key, msg, pure, true, 'pure Ed25519 message');
    expectMessage(key, msg, phSig, false, 'an Ed25519ph signature is not a pure one');
  }
});

test('property: mutated signatures and digests are rejected by both verifiers alike', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ecKey = keyOf(publicKey);
  const rsaKey = keyOf(rsa.publicKey);
  const msg = Buffer.from('fixed message');
  const digest = digestOf('sha256', msg);
  const ecSig = sign('sha256', msg, privateKey);
  const rsaSig = sign('sha256', msg, rsa.privateKey);
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.constantFrom('sig', 'digest', 'truncate', 'append'),
      (useRsa, pos, bit, how) => {
        const [key, sig] = useRsa ? [rsaKey, rsaSig] : [ecKey, ecSig];
        let s: Buffer = sig;
        let d: Buffer = digest;
        if (how === 'sig') s = flip(sig, pos, bit);
        else if (how === 'digest') d = flip(digest, pos, bit);
        else if (how === 'truncate') s = sig.subarray(0, pos % sig.length);
        else s = Buffer.concat([sig, Buffer.from([bit])]);
        for (const [name, v] of VERIFIERS) {
          assert.equal(v.verifyDigest(key, 'sha256', d, s), false, `${name} accepted a ${how} mutation`);
        }
      },
    ),
    { numRuns: 150 },
  );
});

test('property: arbitrary bytes as ECDSA signatures get the same answer from both paths', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const key = keyOf(publicKey);
  const digest = randomBytes(48);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 140 }), (bytes) => {
      const sig = Buffer.from(bytes);
      const ref = referenceVerifier.verifyDigest(key, 'sha384', digest, sig);
      assert.equal(fast.verifyDigest(key, 'sha384', digest, sig), ref);
      assert.equal(ref, false);
    }),
    { numRuns: 300 },
  );
});

test('addon: argument checking throws TypeError; unusable keys and inputs verify false', () => {
  const addon = loadDigestAddon()!;
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const handle = addon.parseKey(publicKey.export({ type: 'spki', format: 'der' }))!;
  const digest = digestOf('sha256', Buffer.from('x'));
  const sig = sign('sha256', Buffer.from('x'), privateKey);
  assert.equal(addon.verifyDigest(handle, digest, sig, 'sha256'), true);
  assert.equal(addon.parseKey(Buffer.from('not a key')), null);
  assert.equal(addon.parseKey(Buffer.alloc(0)), null);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  assert.equal(addon.parseKey(Buffer.concat([der, Buffer.from([0])])), null, 'trailing bytes after the SPKI');
  assert.throws(() => addon.verifyDigest({} as never, digest, sig, 'sha256'), TypeError);
  assert.throws(() => addon.verifyDigest(handle, 'x' as never, sig, 'sha256'), TypeError);
  assert.throws(() => addon.verifyDigest(handle, digest, sig, 'md5' as never), TypeError);
  assert.throws(() => (addon.parseKey as (x: unknown) => unknown)('text'), TypeError);
  // The md only sets the expected digest length; a mismatch is a rejection.
  assert.equal(addon.verifyDigest(handle, digest, sig, 'sha384'), false);
  const ed = addon.parseKey(
    generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }),
  )!;
  assert.equal(addon.verifyDigest(ed, digest, sig, 'sha256'), false, 'Ed25519 has no digest path in OpenSSL');
  // A failed verification must leave OpenSSL's error queue clean for node:crypto afterwards.
  addon.verifyDigest(handle, digest, Buffer.from('garbage'), 'sha256');
  assert.ok(sign('sha256', Buffer.from('y'), privateKey).length > 0);
});

test('addon: component imports (parseEcKey, parseRsaKey) match the DER decoder and refuse bad keys', () => {
  const addon = loadDigestAddon()!;
  for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
    const key = keyOf(publicKey);
    const msg = randomBytes(16);
    const digest = digestOf('sha256', msg);
    const sig = sign('sha256', msg, privateKey);
    const viaPoint = addon.parseEcKey(curve, key.publicBytes)!;
    const viaDer = addon.parseKey(key.spki)!;
    assert.equal(addon.verifyDigest(viaPoint, digest, sig, 'sha256'), true);
    assert.equal(addon.verifyDigest(viaDer, digest, sig, 'sha256'), true);
    // A point moved off the curve, or presented for the wrong curve, is not a key.
    assert.equal(addon.parseEcKey(curve, flip(key.publicBytes, key.publicBytes.length - 1)), null);
    assert.equal(addon.parseEcKey(curve === 'P-256' ? 'P-384' : 'P-256', key.publicBytes), null);
  }
  assert.throws(() => addon.parseEcKey('secp256k1' as never, Buffer.alloc(65, 4)), TypeError);
  assert.equal(addon.parseEcKey('P-256', Buffer.alloc(0)), null);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaKey = keyOf(rsa.publicKey);
  const msg = Buffer.from('rsa');
  const handle = addon.parseRsaKey(rsaKey.publicBytes, rsaKey.rsaExponent!)!;
  assert.equal(
    addon.verifyDigest(handle, digestOf('sha256', msg), sign('sha256', msg, rsa.privateKey), 'sha256'),
    true,
  );
  assert.equal(addon.parseRsaKey(Buffer.alloc(0), rsaKey.rsaExponent!), null);
  assert.equal(addon.parseRsaKey(rsaKey.publicBytes, Buffer.alloc(9, 1)), null);
  assert.throws(() => addon.parseRsaKey('n' as never, rsaKey.rsaExponent!), TypeError);
});

test('key cache: many distinct keys through a tiny cache still verify correctly', () => {
  const v = createFastVerifier({ keyCacheSize: 2 });
  const cases = Array.from({ length: 5 }, () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const msg = randomBytes(8);
    return { key: keyOf(publicKey), digest: digestOf('sha256', msg), sig: sign('sha256', msg, privateKey) };
  });
  for (let pass = 0; pass < 3; pass++) {
    for (const c of cases) assert.equal(v.verifyDigest(c.key, 'sha256', c.digest, c.sig), true);
    for (let i = 0; i < cases.length; i++) {
      const other = cases[(i + 1) % cases.length]!;
      assert.equal(v.verifyDigest(cases[i]!.key, 'sha256', cases[i]!.digest, other.sig), false);
    }
  }
});

test('without the built addon the loader warns once and the verifier still answers correctly', () => {
  // A copy of the compiled loader in a fake "vellum" checkout that has no native build.
  const dir = mkdtempSync(join(tmpdir(), 'vellum-nonative-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'vellum' }));
    mkdirSync(join(dir, 'lib'));
    for (const sub of ['core', 'crypto']) {
      cpSync(join(__dirname, '..', '..', 'src', sub), join(dir, 'lib', 'src', sub), { recursive: true });
    }
    const script = `
      const { createFastVerifier } = require('./lib/src/crypto/fast-verifier.js');
      const { parseSpki } = require('./lib/src/core/x509/index.js');
      const c = require('node:crypto');
      const { publicKey, privateKey } = c.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const key = parseSpki(publicKey.export({ type: 'spki', format: 'der' }));
      const msg = Buffer.from('m');
      const d = c.createHash('sha256').update(msg).digest();
      const sig = c.sign('sha256', msg, privateKey);
      const a = createFastVerifier(), b = createFastVerifier();
      console.log(JSON.stringify([a.verifyDigest(key, 'sha256', d, sig), b.verifyDigest(key, 'sha256', Buffer.alloc(32), sig)]));
    `;
    const r = spawnSync(process.execPath, ['-e', script], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: join(repoRoot(), 'node_modules') },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), [true, false]);
    const warnings = r.stderr.match(/VELLUM_NO_NATIVE_VERIFY/g) ?? [];
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(
      r.stderr,
      /native digest verifier unavailable \(native\/build\/Release\/vellum_digest_verify\.node is not built\)/,
    );

    // A pool of verification workers (main thread never loading it) also warns exactly once.
    // (Warnings print asynchronously; like real pool workers, these live long enough to flush.)
    const pool = `
      const { Worker } = require('node:worker_threads');
      const code = "const { createFastVerifier } = require(process.cwd() + '/lib/src/crypto/fast-verifier.js'); createFastVerifier(); setTimeout(() => require('node:worker_threads').parentPort.postMessage('ok'), 100);";
      let done = 0;
      for (let i = 0; i < 3; i++) {
        const w = new Worker(code, { eval: true });
        w.on('message', () => { w.terminate(); if (++done === 3) console.log('done'); });
      }
    `;
    const p = spawnSync(process.execPath, ['-e', pool], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: join(repoRoot(), 'node_modules') },
    });
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout.trim(), 'done');
    assert.equal((p.stderr.match(/VELLUM_NO_NATIVE_VERIFY/g) ?? []).length, 1, p.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
