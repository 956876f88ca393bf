/**
 * RFC 3161 core: queries made by `openssl ts -query` parse; replies built here are read and
 * verified by OpenSSL (`openssl ts -reply -text`, `openssl ts -verify`), an independent TSP
 * implementation; hostile query bytes only ever give a coded 400-class error.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { MessageImprint, TimeStampReq } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';

import { isVellumError } from '../../src/core/errors';
import { buildTsaChain, checkTsaChain } from '../../src/core/tsp/certificates';
import { parseTimestampQueryDer, parseTimestampQueryJson } from '../../src/core/tsp/query';
import { buildTimestampReply, readTimestampReply } from '../../src/core/tsp/reply';
import { applyMutation, mutationArb } from '../support/der-mutations';

const POLICY = '1.3.6.1.4.1.57264.2';
const dir = mkdtempSync(join(tmpdir(), 'vellum-tsp-'));
const openssl = (...args: string[]): string =>
  execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function key() {
  const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    spki: k.publicKey.export({ type: 'spki', format: 'der' }),
    sign: (d: Buffer) => sign('sha256', d, k.privateKey),
  };
}
const pem = (d: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${d
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;

const rootKey = key();
const leafKey = key();
const start = new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000);
const chain = buildTsaChain({
  root: rootKey,
  leaf: leafKey,
  rootName: 'test TSA root',
  leafName: 'test TSA',
  notBefore: start,
  notAfter: new Date(start.getTime() + 86400_000),
  rootSerial: randomBytes(16),
  leafSerial: randomBytes(16),
});
writeFileSync(join(dir, 'root.pem'), pem(chain.root));
writeFileSync(join(dir, 'leaf.pem'), pem(chain.leaf));
const signer = { certificate: chain.leaf, chain: [chain.root], sign: leafKey.sign };
const now = () => new Date(Math.floor(Date.now() / 1000) * 1000);

describe('RFC 3161 timestamps checked by OpenSSL', () => {
  for (const alg of ['sha256', 'sha384', 'sha512'] as const) {
    it(`openssl ts -verify accepts a reply to openssl's own ${alg} query, certificates included`, () => {
      const data = randomBytes(100);
      writeFileSync(join(dir, 'data.bin'), data);
      openssl('ts', '-query', '-data', 'data.bin', `-${alg}`, '-cert', '-out', 'q.tsq');
      const query = parseTimestampQueryDer(readFileSync(join(dir, 'q.tsq')));
      assert.equal(query.hashAlgorithm.name, alg);
      assert.deepEqual(query.digest, createHash(alg).update(data).digest());
      assert.equal(query.certReq, true);
      assert.ok(query.nonce !== undefined);
      const serial = BigInt(`0x${randomBytes(12).toString('hex')}`) + 1n;
      const reply = buildTimestampReply({ query, policyOid: POLICY, serial, genTime: now() }, signer);
      writeFileSync(join(dir, 'r.tsr'), reply);
      const text = openssl('ts', '-reply', '-in', 'r.tsr', '-text');
      assert.match(text, /Status: Granted\./);
      assert.match(text, new RegExp(`Policy OID: ${POLICY.replace(/\./g, '\\.')}`));
      assert.match(text, new RegExp(`Hash Algorithm: ${alg}`));
      assert.match(text, new RegExp(`Serial number: 0x${serial.toString(16).toUpperCase()}`, 'i'));
      assert.match(text, new RegExp(`Nonce: 0x${query.nonce.toString('hex').replace(/^00/, '')}`, 'i'));
      // Verifying against the data, with the query (nonce echo) and by digest.
      openssl(
        'ts',
        '-verify',
        '-data',
        'data.bin',
        '-in',
        'r.tsr',
        '-CAfile',
        'root.pem',
        '-untrusted',
        'leaf.pem',
      );
      openssl('ts', '-verify', '-queryfile', 'q.tsq', '-in', 'r.tsr', '-CAfile', 'root.pem');
      openssl(
        'ts',
        '-verify',
        '-digest',
        query.digest.toString('hex'),
        `-${alg}`,
        '-in',
        'r.tsr',
        '-CAfile',
        'root.pem',
        '-untrusted',
        'leaf.pem',
      );
      const read = readTimestampReply(reply);
      assert.equal(read.signedData?.certificates?.length, 2);
    });
  }

  it('without certReq the reply carries no certificates, and OpenSSL still verifies it given the chain', () => {
    const data = randomBytes(33);
    writeFileSync(join(dir, 'data.bin'), data);
    openssl('ts', '-query', '-data', 'data.bin', '-sha256', '-no_nonce', '-out', 'q.tsq');
    const query = parseTimestampQueryDer(readFileSync(join(dir, 'q.tsq')));
    assert.equal(query.certReq, false);
    assert.equal(query.nonce, undefined);
    const reply = buildTimestampReply({ query, policyOid: POLICY, serial: 7n, genTime: now() }, signer);
    writeFileSync(join(dir, 'r.tsr'), reply);
    assert.equal(readTimestampReply(reply).signedData?.certificates, undefined);
    openssl(
      'ts',
      '-verify',
      '-data',
      'data.bin',
      '-in',
      'r.tsr',
      '-CAfile',
      'root.pem',
      '-untrusted',
      'leaf.pem',
    );
  });

  it('OpenSSL rejects a reply for other data, or one whose signature byte is changed', () => {
    writeFileSync(join(dir, 'data.bin'), 'one');
    openssl('ts', '-query', '-data', 'data.bin', '-sha256', '-out', 'q.tsq');
    const query = parseTimestampQueryDer(readFileSync(join(dir, 'q.tsq')));
    const reply = buildTimestampReply({ query, policyOid: POLICY, serial: 9n, genTime: now() }, signer);
    writeFileSync(join(dir, 'r.tsr'), reply);
    writeFileSync(join(dir, 'other.bin'), 'two');
    const verify = (data: string) =>
      openssl(
        'ts',
        '-verify',
        '-data',
        data,
        '-in',
        'r.tsr',
        '-CAfile',
        'root.pem',
        '-untrusted',
        'leaf.pem',
      );
    verify('data.bin');
    assert.throws(() => verify('other.bin'));
    // The ECDSA signature ends the reply (it is the last field of the only SignerInfo).
    const bad = Buffer.from(reply);
    bad[bad.length - 3] ^= 0x01;
    writeFileSync(join(dir, 'r.tsr'), bad);
    assert.throws(() => verify('data.bin'));
  });

  it('the generated chain has the critical timeStamping EKU and passes checkTsaChain; other keys do not', () => {
    const text = openssl('x509', '-in', 'leaf.pem', '-noout', '-text');
    assert.match(text, /X509v3 Extended Key Usage: critical\s+Time Stamping/);
    openssl('verify', '-CAfile', 'root.pem', '-purpose', 'timestampsign', 'leaf.pem');
    assert.equal(checkTsaChain([chain.leaf, chain.root], leafKey.spki).length, 2);
    assert.throws(() => checkTsaChain([chain.leaf, chain.root], rootKey.spki), /not for the TSA key/);
    assert.throws(() => checkTsaChain([chain.root], rootKey.spki), /timeStamping/);
  });
});

describe('timestamp query parsing', () => {
  it('refuses unknown hash algorithms and wrong digest lengths with INVALID_ARGUMENT', () => {
    writeFileSync(join(dir, 'data.bin'), 'x');
    openssl('ts', '-query', '-data', 'data.bin', '-sha1', '-out', 'q1.tsq');
    assert.throws(
      () => parseTimestampQueryDer(readFileSync(join(dir, 'q1.tsq'))),
      (e) =>
        isVellumError(e, 'INVALID_ARGUMENT') &&
        /unsupported hash algorithm 1\.3\.14\.3\.2\.26/.test(e.message),
    );
    // OpenSSL refuses to write such a query, so the TSP schema library writes it.
    const short = new TimeStampReq({
      version: 1,
      messageImprint: new MessageImprint({
        hashAlgorithm: new AlgorithmIdentifier({ algorithm: '2.16.840.1.101.3.4.2.1' }),
        hashedMessage: new OctetString(new Uint8Array(20).fill(0xab).buffer),
      }),
    });
    assert.throws(
      () => parseTimestampQueryDer(Buffer.from(AsnConvert.serialize(short))),
      (e) => isVellumError(e, 'INVALID_ARGUMENT') && /20 bytes; sha256 digests are 32/.test(e.message),
    );
  });

  it('reads the JSON request sigstore-js sends, and refuses malformed ones', () => {
    const digest = randomBytes(32);
    const q = parseTimestampQueryJson({ artifactHash: digest.toString('base64'), hashAlgorithm: 'sha256' });
    assert.deepEqual(q.digest, digest);
    assert.equal(q.certReq, false);
    const withNonce = parseTimestampQueryJson({
      artifactHash: digest.toString('base64'),
      hashAlgorithm: 'sha256',
      nonce: 200,
      certificates: true,
    });
    assert.deepEqual(withNonce.nonce, Buffer.from([0x00, 0xc8]));
    assert.equal(withNonce.certReq, true);
    const bad = [
      null,
      [],
      { hashAlgorithm: 'sha256' },
      { artifactHash: digest.toString('base64'), hashAlgorithm: 'md5' },
      { artifactHash: digest.subarray(1).toString('base64'), hashAlgorithm: 'sha256' },
      { artifactHash: digest.toString('base64'), hashAlgorithm: 'sha256', nonce: -1 },
      { artifactHash: digest.toString('base64'), hashAlgorithm: 'sha256', extra: 1 },
      { artifactHash: '***', hashAlgorithm: 'sha256' },
    ];
    for (const b of bad)
      assert.throws(
        () => parseTimestampQueryJson(b),
        (e) => isVellumError(e, 'INVALID_ARGUMENT') || isVellumError(e, 'SCHEMA_VIOLATION'),
        JSON.stringify(b),
      );
  });

  const clientErrors = new Set(['INVALID_DER', 'INVALID_ARGUMENT', 'TOO_LARGE']);
  const expectClientError = (bytes: Buffer): void => {
    try {
      parseTimestampQueryDer(bytes);
    } catch (e) {
      if (isVellumError(e) && clientErrors.has(e.code)) return;
      throw e;
    }
  };

  it('fuzz: mutated queries either parse to a consistent query or fail with a client error', () => {
    writeFileSync(join(dir, 'data.bin'), 'fuzz');
    openssl('ts', '-query', '-data', 'data.bin', '-sha256', '-cert', '-out', 'q.tsq');
    const seed = readFileSync(join(dir, 'q.tsq'));
    fc.assert(
      fc.property(mutationArb, (m) => {
        const bytes = applyMutation(seed, m);
        try {
          const q = parseTimestampQueryDer(bytes);
          assert.equal(q.digest.length, q.hashAlgorithm.length);
        } catch (e) {
          if (!(isVellumError(e) && clientErrors.has(e.code))) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('fuzz: random bytes never crash the parser', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => expectClientError(Buffer.from(b))),
      { numRuns: 3000 },
    );
    expectClientError(Buffer.alloc(5000, 0x30));
  });
});
