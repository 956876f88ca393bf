/**
 * Identity extraction from Rekor v2 (0.0.2) bodies: real rekor-tiles staging bundles (Fulcio
 * certificates, checked against node's X509Certificate), and DSSE 0.0.2 bodies our v2 parser
 * builds from public keys. A v2 entry must give the same identities a monitor rule sees for a v1
 * entry, never `unparsable`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareV2Entry } from '../../src/core/entries/v2';
import { referenceVerifier } from '../../src/core/entries';
import { extractIdentities, subjectSans } from '../../src/core/monitor/identity';
import { identityIndexKeys } from '../../src/core/monitor/index-keys';
import { repoRoot } from '../support/paths';
import { dsseRequest, hashedRequest, SIGNERS } from '../support/v2-requests';

function fixture(name: string): any {
  return JSON.parse(readFileSync(join(repoRoot(), 'test', 'core', 'fixtures', name), 'utf8'));
}

describe('monitor identities from Rekor v2 bodies', () => {
  for (const file of ['staging-rekor-v2.txt.sigstore.json', 'a.dsse.staging-rekor-v2.txt.sigstore.json']) {
    test(`${file}: the Fulcio certificate's identity, fingerprints and digest`, () => {
      const bundle = fixture(file);
      const body = Buffer.from(bundle.verificationMaterial.tlogEntries[0].canonicalizedBody, 'base64');
      const der = Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64');
      const oracle = new X509Certificate(der);
      const id = extractIdentities(body);
      assert.deepEqual(id.malformed, []);
      assert.equal(id.apiVersion, '0.0.2');
      assert.equal(id.signers.length, 1);
      const signer = id.signers[0]!;
      assert.equal(signer.type, 'certificate');
      const cert = signer.certificate!;
      assert.equal(cert.sha256, createHash('sha256').update(der).digest('hex'));
      assert.equal(
        signer.publicKeySha256,
        createHash('sha256')
          .update(oracle.publicKey.export({ type: 'spki', format: 'der' }))
          .digest('hex'),
      );
      // Every subject SAN we report is one node reads from the certificate.
      const sans = subjectSans(cert).map((s) => s.value);
      assert.ok(sans.length > 0);
      for (const s of sans) assert.ok(oracle.subjectAltName?.includes(s), s);
      assert.match(cert.issuer.value ?? '', /^https:\/\//);
      const stored = JSON.parse(body.toString('utf8')).spec.hashedRekordV002.data.digest as string;
      assert.deepEqual(id.digests, [`sha256:${Buffer.from(stored, 'base64').toString('hex')}`]);
      assert.ok(identityIndexKeys(id).includes(`fp:${cert.sha256}`));
    });
  }

  test('hashedrekord 0.0.2 and dsse 0.0.2 with public keys: one fingerprint per distinct key', () => {
    const [a, b] = [SIGNERS[0]!, SIGNERS[1]!];
    const fp = (spki: Buffer) => createHash('sha256').update(spki).digest('hex');
    const hashed = extractIdentities(prepareV2Entry(hashedRequest(a), referenceVerifier).body);
    assert.deepEqual(hashed.malformed, []);
    assert.deepEqual(
      hashed.signers.map((s) => [s.type, s.publicKeySha256]),
      [['publicKey', fp(a.spki)]],
    );
    const dsse = extractIdentities(prepareV2Entry(dsseRequest([a, b]), referenceVerifier).body);
    assert.equal(dsse.kind, 'dsse');
    assert.deepEqual(dsse.malformed, []);
    assert.deepEqual(
      dsse.signers.map((s) => s.publicKeySha256),
      [fp(a.spki), fp(b.spki)],
    );
    assert.equal(dsse.digests.length, 1);
    assert.match(dsse.digests[0]!, /^sha256:[0-9a-f]{64}$/);
  });

  test('a v2 body with its verifier or digest damaged is reported malformed, not skipped', () => {
    const body = JSON.parse(prepareV2Entry(hashedRequest(SIGNERS[0]!), referenceVerifier).body.toString());
    body.spec.hashedRekordV002.signature.verifier.publicKey.rawBytes = 'not base64!';
    body.spec.hashedRekordV002.data.algorithm = '__proto__';
    const id = extractIdentities(Buffer.from(JSON.stringify(body)));
    assert.equal(id.signers[0]!.type, 'unparsable');
    assert.ok(id.malformed.length > 0);
    assert.deepEqual(id.digests, []);
    delete body.spec.hashedRekordV002;
    assert.ok(
      extractIdentities(Buffer.from(JSON.stringify(body))).malformed.some(
        (m) => m.path === 'spec.hashedRekordV002',
      ),
    );
  });
});
