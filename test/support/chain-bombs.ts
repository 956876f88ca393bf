/**
 * Hostile certificate chains for the chain-building bounds: a leaf followed by CA certificates that
 * all share one subject name and one key (so each one verifies every other's signature) and a
 * root that is not a CA, so no ordering ever reaches a trust anchor. Trying every ordering of the
 * eight CA certificates of the 10-certificate form costs tens of thousands of signature checks.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
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

/**
 * A dsse ProposedEntry that is valid but as slow as the kind allows: 16 P-521 verifiers, each
 * signature listed in the reverse of its key's order, so the keys try 136 signatures in all.
 */
export function slowDsse(): Record<string, unknown> {
  const payloadType = 'application/vnd.in-toto+json';
  const payload = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [] }));
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `),
    payload,
  ]);
  const keys = Array.from({ length: 16 }, () => generateKeyPairSync('ec', { namedCurve: 'P-521' }));
  const signatures = keys.map((k) => ({
    keyid: '',
    sig: sign('sha256', pae, k.privateKey).toString('base64'),
  }));
  const envelope = JSON.stringify({
    payload: payload.toString('base64'),
    payloadType,
    signatures: signatures.reverse(),
  });
  const verifiers = keys.map((k) =>
    Buffer.from(k.publicKey.export({ type: 'spki', format: 'pem' }) as string).toString('base64'),
  );
  return { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope, verifiers } } };
}
