import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { p256 } from '@noble/curves/p256';
import { ed25519 } from '@noble/curves/ed25519';
import { LogPublicKey, LogSigningKey } from '../../src/core/keys';
import {
  decodeBase64Strict,
  isBase64Strict,
  isLowerHex,
  pemDecodeAll,
  pemEncode,
} from '../../src/core/encoding';
import { isVellumError } from '../../src/core/errors';
import { readVector } from '../support/paths';

interface ProductionVectors {
  log: { publicKeyPem: string; publicKeyDerBase64: string; logIdHex: string };
}

const N = p256.CURVE.n;
const invalidKey = (e: unknown) => isVellumError(e, 'INVALID_KEY');
const invalidArg = (e: unknown) => isVellumError(e, 'INVALID_ARGUMENT');
const msg = Buffer.from('vellum checkpoint text\n');

function flip(b: Uint8Array, i: number): Buffer {
  const c = Buffer.from(b);
  c[i % c.length] ^= 0x01;
  return c;
}

/** Minimal DER ECDSA-Sig-Value parse, independent of the code under test. */
function derRS(sig: Uint8Array): { r: bigint; s: bigint } {
  const s = p256.Signature.fromDER(sig);
  return { r: s.r, s: s.s };
}

function derFromRS(r: bigint, s: bigint): Buffer {
  return Buffer.from(new p256.Signature(r, s).toDERRawBytes());
}

function jwkPem(jwk: Record<string, string>): string {
  return createPrivateKey({ key: jwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** The same P-256 key as a 59-byte SPKI with a compressed point (OpenSSL accepts it). */
function compressedSpki(uncompressed: Buffer): Buffer {
  const prefix = Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex');
  return Buffer.concat([prefix, Buffer.from([2 | (uncompressed[64]! & 1)]), uncompressed.subarray(1, 33)]);
}

const b64u = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');

describe('LogSigningKey / LogPublicKey', () => {
  for (const alg of ['ecdsa-p256', 'ed25519'] as const) {
    it(`${alg}: generate, PKCS#8 round trip, logId = SHA-256(SPKI DER)`, () => {
      const sk = LogSigningKey.generate(alg);
      assert.equal(sk.algorithm, alg);
      assert.equal(sk.publicKey.algorithm, alg);
      const again = LogSigningKey.fromPem(sk.toPkcs8Pem());
      assert.deepEqual(again.publicKey.der, sk.publicKey.der);
      assert.deepEqual(sk.publicKey.logId, createHash('sha256').update(sk.publicKey.der).digest());
      assert.equal(sk.publicKey.logIdHex, sk.publicKey.logId.toString('hex'));
      assert.match(
        sk.toPkcs8Pem(),
        /^-----BEGIN PRIVATE KEY-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END PRIVATE KEY-----\n$/,
      );
      const pub = LogPublicKey.fromPem(sk.publicKey.pem);
      assert.deepEqual(pub.der, sk.publicKey.der);
      assert.deepEqual(LogPublicKey.fromDer(sk.publicKey.der).logId, sk.publicKey.logId);
      // Node's own SPKI export of the key is the same DER.
      const nodeDer = createPublicKey(sk.toPkcs8Pem()).export({ type: 'spki', format: 'der' });
      assert.deepEqual(sk.publicKey.der, nodeDer);
      assert.equal(sk.publicKey.raw.length, alg === 'ed25519' ? 32 : 65);
      // A different key has a different logId (the test can fail if logId ignored the key).
      assert.notDeepEqual(LogSigningKey.generate(alg).publicKey.logId, sk.publicKey.logId);
    });

    it(`${alg}: sign/verify across node:crypto and @noble/curves, tampering fails`, () => {
      const sk = LogSigningKey.generate(alg);
      const pk = sk.publicKey;
      const nodePub = createPublicKey(pk.pem);
      for (const sig of [sk.sign(msg), sk.signDeterministic(msg)]) {
        assert.ok(pk.verify(msg, sig));
        assert.ok(pk.verifyPortable(msg, sig));
        if (alg === 'ed25519') {
          assert.ok(nodeVerify(null, msg, nodePub, sig));
          assert.ok(ed25519.verify(sig, msg, pk.raw));
        } else {
          assert.ok(nodeVerify('sha256', msg, nodePub, sig));
          assert.ok(p256.verify(sig, msg, pk.raw, { prehash: true, lowS: false, format: 'der' }));
        }
        assert.equal(pk.verify(flip(msg, 3), sig), false);
        assert.equal(pk.verifyPortable(flip(msg, 3), sig), false);
        assert.equal(pk.verify(msg, flip(sig, sig.length - 2)), false);
        assert.equal(pk.verifyPortable(msg, flip(sig, sig.length - 2)), false);
        assert.equal(LogSigningKey.generate(alg).publicKey.verify(msg, sig), false);
      }
      assert.equal(pk.verify(msg, Buffer.alloc(0)), false);
      assert.equal(pk.verify(msg, Buffer.from('not a signature')), false);
    });

    it(`${alg}: deterministic signatures repeat, survive a PEM reload and verify with node:crypto`, () => {
      const sk = LogSigningKey.generate(alg);
      const a = sk.signDeterministic(msg);
      assert.deepEqual(sk.signDeterministic(msg), a);
      assert.deepEqual(LogSigningKey.fromPem(sk.toPkcs8Pem()).signDeterministic(msg), a);
      assert.notDeepEqual(sk.signDeterministic(flip(msg, 0)), a);
      const nodePub = createPublicKey(sk.publicKey.pem);
      assert.ok(nodeVerify(alg === 'ed25519' ? null : 'sha256', msg, nodePub, a));
      if (alg === 'ecdsa-p256') {
        assert.ok(derRS(a).s <= N / 2n, 'low-S');
        // OpenSSL's signatures are randomised, so two of them differ.
        assert.notDeepEqual(sk.sign(msg), sk.sign(msg));
      }
    });
  }

  it('ECDSA: RFC 6979 A.2.5 known answer (P-256, SHA-256, "sample"), low-S normalised', () => {
    const pem = jwkPem({
      kty: 'EC',
      crv: 'P-256',
      d: b64u('c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721'),
      x: b64u('60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6'),
      y: b64u('7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299'),
    });
    const sk = LogSigningKey.fromPem(pem);
    const sig = sk.signDeterministic(Buffer.from('sample'));
    const { r, s } = derRS(sig);
    assert.equal(r, 0xefd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716n);
    assert.equal(s, N - 0xf7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8n);
    // The high-S twin (what a non-normalising signer emits) is still accepted by both verifiers.
    const high = derFromRS(r, N - s);
    assert.ok(sk.publicKey.verify(Buffer.from('sample'), high));
    assert.ok(sk.publicKey.verifyPortable(Buffer.from('sample'), high));
  });

  it('Ed25519: RFC 8032 test 1 known answer; node:crypto and @noble/curves agree byte for byte', () => {
    const seed = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
    const pub = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
    const sk = LogSigningKey.fromPem(jwkPem({ kty: 'OKP', crv: 'Ed25519', d: b64u(seed), x: b64u(pub) }));
    assert.equal(sk.publicKey.raw.toString('hex'), pub);
    const sig = sk.signDeterministic(Buffer.alloc(0));
    assert.equal(
      sig.toString('hex'),
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    assert.deepEqual(sk.signDeterministic(msg), Buffer.from(ed25519.sign(msg, Buffer.from(seed, 'hex'))));
    assert.deepEqual(sk.sign(msg), sk.signDeterministic(msg));
  });

  it('loads P-256 keys in SEC1 ("EC PRIVATE KEY", with and without an EC PARAMETERS block) and PKCS#8', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const a = LogSigningKey.fromPem(sec1);
    const b = LogSigningKey.fromPem(pkcs8);
    const withParams = pemEncode('EC PARAMETERS', Buffer.from('06082a8648ce3d030107', 'hex')) + sec1;
    const c = LogSigningKey.fromPem(withParams);
    const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    for (const k of [a, b, c]) assert.deepEqual(k.publicKey.der, spki);
    assert.deepEqual(a.signDeterministic(msg), b.signDeterministic(msg));
    // The key works: a node:crypto signature by the original key verifies under the loaded one.
    assert.ok(a.publicKey.verify(msg, nodeSign('sha256', msg, privateKey)));
  });

  it('matches the production Rekor key: logID, Go-style PEM', () => {
    const v = readVector<ProductionVectors>('rekor-production.json').log;
    const pk = LogPublicKey.fromPem(v.publicKeyPem);
    assert.equal(pk.algorithm, 'ecdsa-p256');
    assert.equal(pk.logIdHex, v.logIdHex);
    assert.equal(pk.der.toString('base64'), v.publicKeyDerBase64);
    assert.equal(pk.pem, v.publicKeyPem);
    // One flipped bit either leaves the curve (INVALID_KEY) or is another key with another logID.
    for (const i of [40, 80]) {
      try {
        assert.notEqual(LogPublicKey.fromDer(flip(pk.der, i)).logIdHex, v.logIdHex);
      } catch (e) {
        assert.ok(invalidKey(e), String(e));
      }
    }
  });

  it('rejects other curves and key types with INVALID_KEY', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const x25519 = generateKeyPairSync('x25519');
    for (const kp of [p384, k1, rsa, x25519]) {
      const spkiPem = kp.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const spkiDer = kp.publicKey.export({ type: 'spki', format: 'der' });
      assert.throws(() => LogPublicKey.fromPem(spkiPem), invalidKey);
      assert.throws(() => LogPublicKey.fromDer(spkiDer), invalidKey);
      assert.throws(
        () => LogSigningKey.fromPem(kp.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
        invalidKey,
      );
    }
    assert.throws(
      () => LogSigningKey.fromPem(p384.privateKey.export({ type: 'sec1', format: 'pem' }).toString()),
      invalidKey,
    );
  });

  it('rejects malformed, encrypted, mislabelled or ambiguous PEM with INVALID_KEY', () => {
    const sk = LogSigningKey.generate();
    const other = LogSigningKey.generate();
    const enc = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'pw',
    });
    const cases = [
      '',
      'garbage',
      sk.publicKey.pem + other.publicKey.pem, // two keys: which one?
      sk.toPkcs8Pem(), // private key where a public key is expected
      sk.publicKey.pem.replace('PUBLIC KEY-----\n', 'PUBLIC KEY-----\n!'),
      sk.publicKey.pem.replace('-----END PUBLIC KEY-----', '-----END PRIVATE KEY-----'),
      pemEncode('PUBLIC KEY', flip(sk.publicKey.der, 3)),
      pemEncode('PUBLIC KEY', Buffer.concat([sk.publicKey.der, Buffer.from([0])])), // OpenSSL ignores the tail
      pemEncode('PUBLIC KEY', sk.publicKey.der.subarray(0, 40)),
      pemEncode('PUBLIC KEY', compressedSpki(sk.publicKey.raw)),
    ];
    // Sanity: the compressed form really is the same key to OpenSSL, so only our rule rejects it.
    const comp = createPublicKey({ key: compressedSpki(sk.publicKey.raw), format: 'der', type: 'spki' });
    assert.deepEqual(
      comp.export({ format: 'jwk' }),
      createPublicKey(sk.publicKey.pem).export({ format: 'jwk' }),
    );
    for (const c of cases) assert.throws(() => LogPublicKey.fromPem(c), invalidKey, JSON.stringify(c));
    assert.throws(() => LogSigningKey.fromPem(enc.toString()), invalidKey);
    assert.throws(() => LogSigningKey.fromPem(sk.publicKey.pem), invalidKey);
    assert.throws(() => LogSigningKey.fromPem(sk.toPkcs8Pem() + other.toPkcs8Pem()), invalidKey);
    assert.throws(
      () => LogSigningKey.fromPem(pemEncode('EC PRIVATE KEY', Buffer.from('3000', 'hex'))),
      invalidKey,
    );
    assert.throws(() => LogSigningKey.generate('rsa' as never), invalidKey);
  });
});

describe('encoding helpers', () => {
  it('decodeBase64Strict accepts only canonical padded standard base64', () => {
    assert.deepEqual(decodeBase64Strict('', 'x'), Buffer.alloc(0));
    assert.deepEqual(decodeBase64Strict('+/8=', 'x'), Buffer.from([0xfb, 0xff]));
    assert.deepEqual(decodeBase64Strict('AAECAw==', 'x'), Buffer.from([0, 1, 2, 3]));
    for (const bad of [
      'AAECAw',
      'AAECAw=',
      'AAECAw===',
      'AAEC Aw==',
      'AAECAw==\n',
      '-_8=',
      'AAECAx==',
      'AB==',
      'A',
      '====',
    ]) {
      assert.throws(
        () => decodeBase64Strict(bad, 'the field'),
        (e) => invalidArg(e) && /the field/.test((e as Error).message),
        bad,
      );
      assert.equal(isBase64Strict(bad), false, bad);
    }
    assert.equal(isBase64Strict('AAECAw=='), true);
    assert.equal(isBase64Strict('AA=='), true);
  });

  it('isLowerHex checks alphabet, parity and length', () => {
    assert.equal(isLowerHex('00ff'), true);
    assert.equal(isLowerHex('00ff', 2), true);
    assert.equal(isLowerHex('00ff', 3), false);
    assert.equal(isLowerHex('00FF'), false);
    assert.equal(isLowerHex('0ff'), false);
    assert.equal(isLowerHex('0g'), false);
    assert.equal(isLowerHex(''), false);
    assert.equal(isLowerHex('', 0), true);
  });

  it('pemEncode writes Go-style 64-char lines; pemDecodeAll reads them back and rejects garbage', () => {
    const der = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const pem = pemEncode('CERTIFICATE', der);
    const lines = pem.split('\n');
    assert.equal(lines[0], '-----BEGIN CERTIFICATE-----');
    assert.equal(lines[1]!.length, 64);
    assert.equal(lines.at(-1), '');
    assert.equal(lines.at(-2), '-----END CERTIFICATE-----');
    assert.deepEqual(pemDecodeAll(pem), [{ type: 'CERTIFICATE', der }]);
    assert.deepEqual(pemDecodeAll(`\n  ${pem}\r\n${pem.replace(/\n/g, '\r\n')}  `).length, 2);
    for (const bad of [
      '',
      '   ',
      'hello\n' + pem,
      pem + 'trailer',
      pem.replace('-----END CERTIFICATE-----', '-----END KEY-----'),
      pem.replace('-----END CERTIFICATE-----\n', ''),
      pem.replace('\n', '\nProc-Type: 4,ENCRYPTED\n'),
      pem.replace(/\n(.)/, '\n $1'),
      '-----BEGIN X-----\n-----END X-----\n',
    ]) {
      assert.throws(() => pemDecodeAll(bad), invalidArg, JSON.stringify(bad));
    }
  });
});
