/**
 * Hostile certificate chains for the chain-building bounds: a leaf followed by CA certificates that
 * all share one subject name and one key (so each one verifies every other's signature) and a
 * root that is not a CA, so no ordering ever reaches a trust anchor. Trying every ordering of the
 * eight CA certificates of the 10-certificate form costs tens of thousands of signature checks.
 */
import { createHash, sign } from 'node:crypto';
import { buildCertificate, newKeyPair, type BuiltCert } from './x509-builder';

export interface ChainBomb {
  readonly leaf: BuiltCert;
  /** Leaf first, then the CA certificates, then the non-CA root. */
  readonly certs: readonly BuiltCert[];
  readonly pem: string;
}

export function chainBomb(caCertificates = 8): ChainBomb {
  const shared = newKeyPair();
  const first = buildCertificate({ subjectCN: 'bomb CA', ca: true, keys: shared });
  const cas = [first];
  while (cas.length < caCertificates)
    cas.push(buildCertificate({ subjectCN: 'bomb CA', ca: true, keys: shared, issuer: first }));
  const leaf = buildCertificate({ issuer: first, sans: [{ email: 'bomb@example.com' }] });
  const root = buildCertificate({ subjectCN: 'not a CA' });
  const certs = [leaf, ...cas, root];
  return { leaf, certs, pem: certs.map((c) => c.pem).join('') };
}

/** A v1 hashedrekord ProposedEntry whose signature `leaf` made, carrying `pemText` as its key. */
export function hashedrekordWithPem(
  leaf: BuiltCert,
  pemText: string,
  artifact: Buffer,
): Record<string, unknown> {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(artifact).digest('hex') } },
      signature: {
        content: sign('sha256', artifact, leaf.keys.privateKey).toString('base64'),
        publicKey: { content: Buffer.from(pemText).toString('base64') },
      },
    },
  };
}
