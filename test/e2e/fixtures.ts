/**
 * Proposed entries made in the tests, with the canonical body each one must become (computed here
 * from Rekor's entry-type schemas, not by the server's code), so tests check canonicalization too.
 */
import { createHash, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';

export interface TestKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** PKIX PEM exactly as Go's pem.Encode writes it (what Node exports). */
  readonly pem: string;
  readonly der: Buffer;
}

export function newP256Key(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKey,
    publicKey,
    pem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    der: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');
const sha256hex = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** Sorted-key JSON: for these string/number-only objects identical to RFC 8785. */
export function jcs(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${jcs(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export interface Fixture {
  readonly kind: 'hashedrekord' | 'dsse' | 'intoto';
  readonly proposed: Record<string, unknown>;
  /** The exact canonical body the server must store. */
  readonly canonical: Buffer;
}

export function hashedrekord(
  key: TestKey,
  artifact: Buffer = randomBytes(48),
): Fixture & { artifact: Buffer; digest: string } {
  const digest = sha256hex(artifact);
  const sig = b64(sign('sha256', artifact, key.privateKey));
  const proposed = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest } },
      signature: { content: sig, publicKey: { content: b64(key.pem) } },
    },
  };
  return { kind: 'hashedrekord', proposed, canonical: Buffer.from(jcs(proposed)), artifact, digest };
}

export function pae(type: string, payload: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `),
    payload,
  ]);
}

const PAYLOAD_TYPE = 'application/vnd.in-toto+json';

function statement(): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [
        {
          name: `artifact-${randomBytes(4).toString('hex')}`,
          digest: { sha256: randomBytes(32).toString('hex') },
        },
      ],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: { buildType: 'https://example.com/test' } },
    }),
  );
}

export function dsse(key: TestKey): Fixture {
  const payload = statement();
  const sig = b64(sign('sha256', pae(PAYLOAD_TYPE, payload), key.privateKey));
  const envelope = JSON.stringify({
    payload: b64(payload),
    payloadType: PAYLOAD_TYPE,
    signatures: [{ keyid: '', sig }],
  });
  const proposed = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: { proposedContent: { envelope, verifiers: [b64(key.pem)] } },
  };
  const canonical = jcs({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256hex(envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256hex(payload) },
      signatures: [{ signature: sig, verifier: b64(key.pem) }],
    },
  });
  return { kind: 'dsse', proposed, canonical: Buffer.from(canonical) };
}

/** intoto 0.0.2 as sigstore-js builds it: double base64, client-computed `hash` (spec §3.3). */
export function intoto(key: TestKey): Fixture {
  const payload = statement();
  const payloadB64 = b64(payload);
  const sigB64 = b64(sign('sha256', pae(PAYLOAD_TYPE, payload), key.privateKey));
  const envelopeHash = sha256hex(
    jcs({
      payloadType: PAYLOAD_TYPE,
      payload: payloadB64,
      signatures: [{ sig: sigB64, publicKey: key.pem }],
    }),
  );
  const signatures = [{ sig: b64(sigB64), publicKey: b64(key.pem) }];
  const proposed = {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payload: b64(payloadB64), payloadType: PAYLOAD_TYPE, signatures },
        hash: { algorithm: 'sha256', value: envelopeHash },
        payloadHash: { algorithm: 'sha256', value: sha256hex(payload) },
      },
    },
  };
  const canonical = jcs({
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType: PAYLOAD_TYPE, signatures },
        hash: { algorithm: 'sha256', value: envelopeHash },
        payloadHash: { algorithm: 'sha256', value: sha256hex(payload) },
      },
    },
  });
  return { kind: 'intoto', proposed, canonical: Buffer.from(canonical) };
}
