/**
 * Rekor v2 CreateEntryRequest parser: bodies equal to real rekor-tiles bodies, every allowed key
 * type signing with node:crypto (or @noble/curves for Ed25519ph, which node:crypto lacks), the
 * sigstore-js quirks, and a reject table. Signatures are checked with both the reference verifier
 * and the fast one. Expected bodies are built here from the proto field names, not by the parser.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519';
import { prepareV2Entry } from '../../src/core/entries/v2';
import { referenceVerifier } from '../../src/core/entries';
import { pae } from '../../src/core/entries/common';
import { buildCertificate } from '../support/x509-builder';
import { verifyInclusion } from '../support/verifier';
import { repoRoot } from '../support/paths';
import {
  ARTIFACT,
  ED25519_SPKI_PREFIX,
  P256,
  SIGNERS,
  VERIFIERS,
  b64,
  expectedHashedBody,
  hashedRequest,
  leaf,
  nodeSigner,
  rejects,
} from '../support/v2-requests';

function fixture(name: string): any {
  return JSON.parse(readFileSync(join(repoRoot(), 'test', 'core', 'fixtures', name), 'utf8'));
}

describe('Rekor v2 bodies equal rekor-tiles bodies', () => {
  for (const file of ['staging-rekor-v2.txt.sigstore.json', 'a.dsse.staging-rekor-v2.txt.sigstore.json']) {
    test(`${file}: the request rebuilt from the bundle gives the logged body and leaf`, () => {
      const bundle = fixture(file);
      const entry = bundle.verificationMaterial.tlogEntries[0];
      const logged = Buffer.from(entry.canonicalizedBody, 'base64');
      const stored = JSON.parse(logged.toString('utf8')).spec.hashedRekordV002;
      const signature = bundle.messageSignature?.signature ?? bundle.dsseEnvelope.signatures[0].sig;
      let digest: string = bundle.messageSignature?.messageDigest.digest;
      if (bundle.dsseEnvelope) {
        // rekor-tiles' DSSE replacement: the client logs SHA-256 of the envelope's PAE.
        const env = bundle.dsseEnvelope;
        digest = b64(
          createHash('sha256')
            .update(pae(env.payloadType, Buffer.from(env.payload, 'base64')))
            .digest(),
        );
      }
      const request = {
        hashedRekordRequestV002: {
          digest,
          signature: {
            content: signature,
            verifier: {
              x509Certificate: { rawBytes: bundle.verificationMaterial.certificate.rawBytes },
              keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            },
          },
        },
      };
      assert.equal(stored.data.digest, digest);
      for (const [, v] of VERIFIERS) {
        const p = prepareV2Entry(request, v);
        assert.deepEqual(p.body, logged);
        assert.equal(p.kind, 'hashedrekord');
        assert.equal(p.apiVersion, '0.0.2');
        assert.deepEqual(p.leafHash, leaf(logged));
        // The same leaf is in rekor-tiles' tree under the checkpoint the bundle carries.
        const proof = entry.inclusionProof;
        verifyInclusion(
          p.leafHash,
          Number(proof.logIndex),
          Number(proof.treeSize),
          proof.hashes.map((h: string) => Buffer.from(h, 'base64')),
          Buffer.from(proof.rootHash, 'base64'),
        );
      }
    });
  }
});

describe('hashedRekordRequestV002: every allowed key type', () => {
  for (const s of SIGNERS) {
    test(`${s.name}: accepted with its own keyDetails, as publicKey and as an SPKI in x509Certificate`, () => {
      for (const [vname, v] of VERIFIERS) {
        const req = hashedRequest(s);
        const sig = req.hashedRekordRequestV002.signature.content;
        const p = prepareV2Entry(req, v);
        assert.deepEqual(p.body, expectedHashedBody(s, 'publicKey', s.spki, sig), `${vname} body`);
        assert.deepEqual(p.leafHash, leaf(p.body));
        // sigstore-js: SPKI in x509Certificate, keyDetails P-256 whatever the key. The stored body
        // names what the key really is, so it equals the body of the corrected request.
        const quirk = hashedRequest(s, { slot: 'x509Certificate', keyDetails: 'PKIX_ECDSA_P256_SHA_256' });
        quirk.hashedRekordRequestV002.signature.content = sig;
        assert.deepEqual(prepareV2Entry(quirk, v).body, p.body, `${vname} quirk body`);
      }
    });
  }

  test('a certificate verifier is stored byte for byte and indexed by its SAN, like v1', () => {
    const cert = buildCertificate({ sans: [{ email: 'dev@example.com' }] });
    const s = nodeSigner('P-256 cert', cert.keys, 'PKIX_ECDSA_P256_SHA_256', 'sha256');
    const req = hashedRequest(s, { slot: 'x509Certificate', der: cert.der });
    const p = prepareV2Entry(req, referenceVerifier);
    assert.deepEqual(
      p.body,
      expectedHashedBody(s, 'x509Certificate', cert.der, req.hashedRekordRequestV002.signature.content),
    );
    const pemHash = createHash('sha256').update(cert.pem).digest('hex');
    assert.ok(p.indexKeys.includes(pemHash), 'certificate PEM hash');
    assert.ok(p.indexKeys.includes('dev@example.com'));
    assert.ok(p.indexKeys.includes(`sha256:${createHash('sha256').update(ARTIFACT).digest('hex')}`));
  });

  test('a public key is indexed by the hash of its PEM, as the v1 search computes it', () => {
    const p = prepareV2Entry(hashedRequest(P256), referenceVerifier);
    const pem = P256.spki.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
    const text = `-----BEGIN PUBLIC KEY-----\n${pem}\n-----END PUBLIC KEY-----\n`;
    assert.equal(p.indexKeys[0], createHash('sha256').update(text).digest('hex'));
  });

  test('protobuf JSON spellings: proto field names, enum numbers and nulls are read like JSON names', () => {
    const req = hashedRequest(P256);
    const r = req.hashedRekordRequestV002;
    const alt = {
      hashed_rekord_request_v002: {
        digest: r.digest,
        signature: {
          content: r.signature.content,
          verifier: { public_key: { raw_bytes: b64(P256.spki) }, key_details: 5, x509_certificate: null },
        },
      },
      dsse_request_v002: null,
    };
    assert.deepEqual(
      prepareV2Entry(alt, referenceVerifier).body,
      prepareV2Entry(req, referenceVerifier).body,
    );
  });
});

describe('hashedRekordRequestV002: rejected input', () => {
  const ok = () => hashedRequest(P256);
  const edit = (f: (r: any) => void) => {
    const r: any = ok();
    f(r.hashedRekordRequestV002);
    return r;
  };
  const cases: Array<[string, unknown, string, RegExp]> = [
    [
      'neither oneof member',
      {},
      'INVALID_ENTRY',
      /one of hashedRekordRequestV002 and dsseRequestV002 is required/,
    ],
    ['both oneof members', { ...ok(), dsseRequestV002: {} }, 'INVALID_ENTRY', /only one of/],
    ['not an object', [ok()], 'INVALID_ENTRY', /expected a JSON object/],
    ['unknown top-level field', { ...ok(), extra: 1 }, 'INVALID_ENTRY', /unknown field "extra"/],
    [
      'unknown nested field',
      edit((r) => (r.signature.verifier.comment = 'x')),
      'INVALID_ENTRY',
      /unknown field "comment"/,
    ],
    [
      'field in both spellings',
      edit((r) => (r.signature.verifier.key_details = 'PKIX_ECDSA_P256_SHA_256')),
      'INVALID_ENTRY',
      /given twice/,
    ],
    [
      'URL-safe base64',
      edit((r) => (r.digest = r.digest.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') + '-_')),
      'INVALID_ENTRY',
      /digest: not standard padded base64/,
    ],
    [
      'unpadded base64',
      edit((r) => (r.digest = r.digest.replace(/=+$/, ''))),
      'INVALID_ENTRY',
      /digest: not standard padded base64/,
    ],
    [
      'base64 with a line break',
      edit((r) => (r.digest = r.digest.slice(0, 8) + '\n' + r.digest.slice(8))),
      'INVALID_ENTRY',
      /not standard padded base64/,
    ],
    [
      'non-zero trailing bits',
      edit((r) => (r.digest = r.digest.slice(0, -2) + 'B=')),
      'INVALID_ENTRY',
      /non-canonical base64/,
    ],
    ['digest as a number', edit((r) => (r.digest = 12)), 'INVALID_ENTRY', /expected a base64 string/],
    ['missing digest', edit((r) => delete r.digest), 'INVALID_ENTRY', /digest is required/],
    [
      'missing signature content',
      edit((r) => (r.signature.content = '')),
      'INVALID_ENTRY',
      /content is required/,
    ],
    ['missing verifier', edit((r) => delete r.signature.verifier), 'INVALID_ENTRY', /verifier is required/],
    [
      'verifier with both slots',
      edit((r) => (r.signature.verifier.x509Certificate = { rawBytes: b64(P256.spki) })),
      'INVALID_ENTRY',
      /only one of publicKey and x509Certificate/,
    ],
    [
      'verifier with no key',
      edit((r) => delete r.signature.verifier.publicKey),
      'INVALID_ENTRY',
      /missing signature public key/,
    ],
    [
      'missing keyDetails',
      edit((r) => delete r.signature.verifier.keyDetails),
      'INVALID_ENTRY',
      /keyDetails is required/,
    ],
    [
      'unknown keyDetails',
      edit((r) => (r.signature.verifier.keyDetails = 'PKIX_ECDSA_P999')),
      'INVALID_ENTRY',
      /unknown PublicKeyDetails/,
    ],
    [
      'garbage key bytes',
      edit((r) => (r.signature.verifier.publicKey.rawBytes = b64(Buffer.from('not a key')))),
      'INVALID_ENTRY',
      /parsing publicKey/,
    ],
    [
      'digest length mismatch (48 bytes for P-256)',
      edit((r) => (r.digest = b64(Buffer.alloc(48, 1)))),
      'INVALID_ENTRY',
      /digest length \(48\) does not match expected size \(32\)/,
    ],
    [
      'digest of other data',
      edit((r) => (r.digest = b64(createHash('sha256').update('other').digest()))),
      'INVALID_SIGNATURE',
      /does not verify/,
    ],
  ];
  for (const [name, input, code, message] of cases) {
    test(name, () => {
      for (const [, v] of VERIFIERS) rejects(input, code, message, v);
    });
  }

  test('wrong key type for the declared family: P-384 key labelled P384_SHA_256, RSA key labelled PSS', () => {
    const p384 = SIGNERS[1]!;
    rejects(
      hashedRequest(p384, { keyDetails: 'PKIX_ECDSA_P384_SHA_256' }),
      'INVALID_SIGNATURE',
      /not allowed for this ECDSA key/,
    );
    rejects(
      hashedRequest(SIGNERS[3]!, { keyDetails: 'PKIX_RSA_PSS_2048_SHA256' }),
      'INVALID_SIGNATURE',
      /not allowed for this RSA key/,
    );
    rejects(
      hashedRequest(SIGNERS[3]!, { keyDetails: 'PKIX_RSA_PKCS1V15_4096_SHA256' }),
      'INVALID_SIGNATURE',
      /allowed: PKIX_RSA_PKCS1V15_2048_SHA256/,
    );
  });

  test('RSA sizes Rekor v2 does not allow (1024 bits) are refused', () => {
    const rsa1024 = nodeSigner(
      'RSA-1024',
      generateKeyPairSync('rsa', { modulusLength: 1024 }),
      'PKIX_RSA_PKCS1V15_2048_SHA256',
      'sha256',
    );
    rejects(
      hashedRequest(rsa1024),
      'INVALID_SIGNATURE',
      /unsupported entry algorithm for RSA key, size 1024/,
    );
  });

  test('pure Ed25519: PKIX_ED25519 is refused; a P-256-labelled Ed25519 key needs an Ed25519ph digest', () => {
    const ed = SIGNERS[SIGNERS.length - 1]!;
    rejects(
      hashedRequest(ed, { keyDetails: 'PKIX_ED25519' }),
      'INVALID_SIGNATURE',
      /PKIX_ED25519 is not allowed/,
    );
    // What sigstore-js sends for an Ed25519 signer: SHA-256 digest, pure Ed25519 signature, P-256 label.
    const priv = ed25519.utils.randomPrivateKey();
    const spki = Buffer.concat([ED25519_SPKI_PREFIX, ed25519.getPublicKey(priv)]);
    const sjs = {
      hashedRekordRequestV002: {
        digest: b64(createHash('sha256').update(ARTIFACT).digest()),
        signature: {
          content: b64(ed25519.sign(ARTIFACT, priv)),
          verifier: { x509Certificate: { rawBytes: b64(spki) }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
        },
      },
    };
    rejects(
      sjs,
      'INVALID_ENTRY',
      /digest length \(32\) does not match expected size \(64\) for PKIX_ED25519_PH/,
    );
    // The same key with an Ed25519ph signature under the P-256 label: the key decides, accepted.
    assert.equal(
      prepareV2Entry(hashedRequest(ed, { keyDetails: 'PKIX_ECDSA_P256_SHA_256' }), referenceVerifier).kind,
      'hashedrekord',
    );
  });

  test('a signature by another key of the same type is refused by both verifiers', () => {
    const other = nodeSigner(
      'P-256 other',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }),
      'PKIX_ECDSA_P256_SHA_256',
      'sha256',
    );
    const r: any = hashedRequest(P256);
    r.hashedRekordRequestV002.signature.content = b64(other.signArtifact(ARTIFACT));
    for (const [, v] of VERIFIERS) rejects(r, 'INVALID_SIGNATURE', /does not verify/, v);
  });
});
