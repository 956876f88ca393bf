/**
 * Rekor v2 dsseRequestV002: every key type verifying over the PAE bytes, the stored body (hashes
 * only, signatures sorted), the sigstore-js quirks, a reject table, and a fast-check fuzz of the
 * whole v2 parser (only VellumErrors escape, never INTERNAL).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { prepareV2Entry } from '../../src/core/entries/v2';
import { referenceVerifier } from '../../src/core/entries';
import { canonicalBytes } from '../../src/core/jcs';
import { isVellumError } from '../../src/core/errors';
import { P256, SIGNERS, VERIFIERS, b64, dsseRequest, hashedRequest, rejects } from '../support/v2-requests';

describe('dsseRequestV002', () => {
  test('every key type: verified over the PAE; only hashes are stored, signatures sorted by bytes', () => {
    const payload = Buffer.from(
      '{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"ab"}}]}',
    );
    const req = dsseRequest(SIGNERS, payload);
    for (const [, v] of VERIFIERS) {
      const p = prepareV2Entry(req, v);
      assert.equal(p.kind, 'dsse');
      const sigs = req.dsseRequestV002.envelope.signatures.map((s, i) => ({
        content: s.sig,
        verifier: { keyDetails: SIGNERS[i]!.keyDetails, publicKey: { rawBytes: b64(SIGNERS[i]!.spki) } },
      }));
      sigs.sort((a, b) => Buffer.compare(Buffer.from(a.content, 'base64'), Buffer.from(b.content, 'base64')));
      const expected = canonicalBytes({
        apiVersion: '0.0.2',
        kind: 'dsse',
        spec: {
          dsseV002: {
            payloadHash: {
              algorithm: 'SHA2_256',
              digest: b64(createHash('sha256').update(payload).digest()),
            },
            signatures: sigs,
          },
        },
      });
      assert.deepEqual(p.body, expected);
      assert.ok(!p.body.includes(payload.toString('base64')), 'payload not stored');
      assert.ok(p.indexKeys.includes('sha256:ab'), 'in-toto subject digest indexed');
    }
  });

  test('sigstore-js form: SPKI in x509Certificate with the P-256 label, for P-256 and pure Ed25519 keys', () => {
    for (const s of [P256, SIGNERS[SIGNERS.length - 1]!]) {
      const r: any = dsseRequest([s]);
      r.dsseRequestV002.verifiers = [
        { x509Certificate: { rawBytes: b64(s.spki) }, keyDetails: 'PKIX_ECDSA_P256_SHA_256' },
      ];
      const p = prepareV2Entry(r, referenceVerifier);
      const stored = JSON.parse(p.body.toString()).spec.dsseV002.signatures[0].verifier;
      assert.deepEqual(stored, { keyDetails: s.keyDetails, publicKey: { rawBytes: b64(s.spki) } });
    }
  });

  const two = SIGNERS.slice(0, 2);
  const cases: Array<[string, () => unknown, string, RegExp]> = [
    [
      'no envelope',
      () => ({ dsseRequestV002: { verifiers: dsseRequest([P256]).dsseRequestV002.verifiers } }),
      'INVALID_ENTRY',
      /missing envelope/,
    ],
    [
      'no verifiers',
      () => ({ dsseRequestV002: { envelope: dsseRequest([P256]).dsseRequestV002.envelope } }),
      'INVALID_ENTRY',
      /missing verifiers/,
    ],
    [
      'no signatures',
      () => {
        const r: any = dsseRequest([P256]);
        r.dsseRequestV002.envelope.signatures = [];
        return r;
      },
      'INVALID_ENTRY',
      /envelope missing signatures/,
    ],
    [
      '11 signatures',
      () => {
        const r: any = dsseRequest([P256]);
        r.dsseRequestV002.envelope.signatures = Array.from({ length: 11 }, (_, i) => ({
          sig: b64(Buffer.from([i])),
        }));
        return r;
      },
      'INVALID_ENTRY',
      /too many items \(11, at most 10\)/,
    ],
    [
      '11 verifiers',
      () => {
        const r: any = dsseRequest([P256]);
        r.dsseRequestV002.verifiers = Array(11).fill(r.dsseRequestV002.verifiers[0]);
        return r;
      },
      'INVALID_ENTRY',
      /too many items/,
    ],
    [
      'duplicate verifier',
      () => {
        const r: any = dsseRequest([P256]);
        r.dsseRequestV002.verifiers.push(r.dsseRequestV002.verifiers[0]);
        return r;
      },
      'INVALID_ENTRY',
      /duplicate verifier/,
    ],
    [
      'duplicate signature',
      () => {
        const r: any = dsseRequest([P256]);
        r.dsseRequestV002.envelope.signatures.push(r.dsseRequestV002.envelope.signatures[0]);
        return r;
      },
      'INVALID_ENTRY',
      /duplicate signature/,
    ],
    [
      'tampered payload',
      () => {
        const r: any = dsseRequest([P256]);
        r.dsseRequestV002.envelope.payload = b64(Buffer.from('other'));
        return r;
      },
      'INVALID_SIGNATURE',
      /verifies no signature/,
    ],
    [
      'changed payloadType',
      () => {
        const r: any = dsseRequest([P256]);
        r.dsseRequestV002.envelope.payloadType = 'text/plain';
        return r;
      },
      'INVALID_SIGNATURE',
      /verifies no signature/,
    ],
    [
      'a signature no verifier accepts',
      () => {
        const r: any = dsseRequest(two);
        r.dsseRequestV002.verifiers.pop();
        return r;
      },
      'INVALID_SIGNATURE',
      /every signature needs a verifier/,
    ],
    [
      'a verifier that verifies nothing',
      () => {
        const r: any = dsseRequest(two);
        r.dsseRequestV002.envelope.signatures.pop();
        return r;
      },
      'INVALID_SIGNATURE',
      /verifiers\[1\] verifies no signature/,
    ],
    [
      'unknown envelope field',
      () => {
        const r: any = dsseRequest([P256]);
        r.dsseRequestV002.envelope.payloadHash = 'x';
        return r;
      },
      'INVALID_ENTRY',
      /unknown field "payloadHash"/,
    ],
  ];
  for (const [name, build, code, message] of cases) {
    test(name, () => {
      for (const [, v] of VERIFIERS) rejects(build(), code, message, v);
    });
  }
});

describe('fuzz: only VellumErrors escape, never INTERNAL', () => {
  test('random JSON and mutated valid requests', async () => {
    const fc = (await import('fast-check')).default;
    const valid = [hashedRequest(P256), dsseRequest([P256])];
    const check = (input: unknown) => {
      try {
        prepareV2Entry(input, referenceVerifier);
      } catch (e) {
        assert.ok(isVellumError(e), `non-VellumError: ${String(e)}`);
        assert.notEqual(e.code, 'INTERNAL', e.message);
      }
    };
    fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 500 });
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.jsonValue()), { maxLength: 4 }),
        (base, edits) => {
          const copy = JSON.parse(JSON.stringify(base));
          // Replace random nodes of the valid tree with random JSON.
          for (const [pick, value] of edits) {
            const nodes: Array<[any, string]> = [];
            const walk = (o: any) => {
              if (o === null || typeof o !== 'object') return;
              for (const k of Object.keys(o)) {
                nodes.push([o, k]);
                walk(o[k]);
              }
            };
            walk(copy);
            if (nodes.length === 0) break;
            const [parent, key] = nodes[pick % nodes.length]!;
            parent[key] = value;
          }
          check(copy);
        },
      ),
      { numRuns: 500 },
    );
  });
});
