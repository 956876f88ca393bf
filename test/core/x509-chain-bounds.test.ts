/**
 * Chain building is bounded: duplicates are dropped, each (child, parent) signature is checked at
 * most once per entry, an entry gets a fixed budget of signature checks, and the result is still
 * exactly "a path of CA certificates leads from the leaf to the root". The reference below is an
 * independent brute force over every simple path, with OpenSSL (node:crypto X509Certificate)
 * deciding each "is issued and signed by" edge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { prepareEntry } from '../../src/core/entries';
import { isVellumError } from '../../src/core/errors';
import {
  ChainChecks,
  MAX_CHAIN_SIGNATURE_CHECKS,
  parseCertificate,
  verifyChain,
  type Certificate,
} from '../../src/core/x509';
import { createFastVerifier } from '../../src/crypto/fast-verifier';
import { chainBomb, hashedrekordWithPem } from '../support/chain-bombs';
import { buildCertificate, newKeyPair, type BuiltCert, type KeyPair } from '../support/x509-builder';

const fast = createFastVerifier();
const parse = (cs: readonly BuiltCert[]): Certificate[] => cs.map((c) => parseCertificate(c.der));
const UNKNOWN = 'x509: certificate signed by unknown authority';

test('a 10-certificate chain bomb is refused after a handful of signature checks', () => {
  const bomb = chainBomb();
  assert.equal(bomb.certs.length, 10);
  const checks = new ChainChecks();
  const started = process.hrtime.bigint();
  assert.throws(
    () => verifyChain(parse(bomb.certs), checks),
    (e: unknown) => isVellumError(e, 'INVALID_CERTIFICATE') && e.message === UNKNOWN,
  );
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // The leaf against each of the eight CA certificates; every CA after that is already visited.
  assert.ok(checks.used <= 8, `signature checks: ${checks.used}`);
  assert.ok(ms < 250, `took ${ms.toFixed(1)} ms`);
  // Through entry verification the same bomb is Rekor's "unknown authority" refusal.
  const entry = hashedrekordWithPem(bomb.leaf, bomb.pem, randomBytes(32));
  assert.throws(
    () => prepareEntry(entry, fast),
    (e: unknown) => isVellumError(e, 'INVALID_SIGNATURE') && e.message.endsWith(UNKNOWN),
  );
});

test('each (child, parent) pair is checked once per entry; duplicate certificates are dropped', () => {
  const root = buildCertificate({ subjectCN: 'root', ca: true });
  const mid = buildCertificate({ subjectCN: 'mid', ca: true, issuer: root });
  const leaf = buildCertificate({ issuer: mid });
  const checks = new ChainChecks();
  verifyChain(parse([leaf, mid, mid, mid, leaf, root, root]), checks);
  assert.equal(checks.used, 2);
  // A second chain of the same entry through the same certificates costs nothing more.
  verifyChain(parse([leaf, mid, root]), checks);
  assert.equal(checks.used, 2);
});

test('past the signature-check budget the chain is refused, and saying why', () => {
  assert.equal(MAX_CHAIN_SIGNATURE_CHECKS, 100);
  // Decoys share the intermediate's name but not its key: each costs one failed check.
  const root = buildCertificate({ subjectCN: 'root', ca: true });
  const mid = buildCertificate({ subjectCN: 'mid', ca: true, issuer: root });
  const decoys = Array.from({ length: 6 }, () =>
    buildCertificate({ subjectCN: 'mid', ca: true, issuer: root }),
  );
  const leaf = buildCertificate({ issuer: mid });
  const chain = parse([leaf, ...decoys, mid, root]);
  const enough = new ChainChecks();
  verifyChain(chain, enough);
  assert.equal(enough.used, 8);
  const tight = new ChainChecks(enough.used - 1);
  assert.throws(
    () => verifyChain(chain, tight),
    (e: unknown) =>
      isVellumError(e, 'INVALID_CERTIFICATE') &&
      e.message ===
        `x509: signature check attempts limit (${enough.used - 1}) reached while verifying certificate chain`,
  );
  assert.equal(tight.used, enough.used - 1);
});

/** Every simple path leaf -> ... -> root through the middle certificates, edges decided by OpenSSL. */
function referenceVerifies(ders: readonly Buffer[]): boolean {
  const xs = ders.map((d) => new X509Certificate(d));
  const n = xs.length;
  const edge = (c: number, p: number): boolean =>
    xs[p]!.ca && xs[c]!.checkIssued(xs[p]!) && xs[c]!.verify(xs[p]!.publicKey);
  const walk = (c: number, used: Set<number>): boolean => {
    if (edge(c, n - 1)) return true;
    for (let p = 1; p < n - 1; p++) {
      if (used.has(p) || !edge(c, p)) continue;
      used.add(p);
      if (walk(p, used)) return true;
      used.delete(p);
    }
    return false;
  };
  return walk(0, new Set([0]));
}

test('property: the bounded walk agrees with every-path search on random chains, in any order', () => {
  const keys: KeyPair[] = Array.from({ length: 4 }, () => newKeyPair());
  const NAMES = ['ca-a', 'ca-b', 'ca-c'];
  const link = fc.record({
    name: fc.nat(NAMES.length - 1),
    key: fc.nat(keys.length - 1),
    ca: fc.boolean(),
    issuer: fc.nat(8),
  });
  fc.assert(
    fc.property(
      fc.array(link, { maxLength: 6 }),
      fc.nat(8),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.nat(8),
      (links, leafIssuer, rootIsCa, order, dup) => {
        const root = buildCertificate({ subjectCN: 'root', ca: rootIsCa || links.length === 0 });
        const made: BuiltCert[] = [];
        for (const l of links) {
          const issuer =
            l.issuer % (made.length + 1) === 0 ? root : made[(l.issuer % (made.length + 1)) - 1]!;
          made.push(buildCertificate({ subjectCN: NAMES[l.name], ca: l.ca, keys: keys[l.key], issuer }));
        }
        const leaf = buildCertificate({
          issuer: leafIssuer % (made.length + 1) === 0 ? root : made[(leafIssuer % (made.length + 1)) - 1]!,
        });
        // Shuffle the middle by sort keys, and repeat one of its certificates.
        const middle = made
          .map((c, i) => ({ c, k: order[i] ?? i }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.c);
        if (middle.length > 0) middle.splice(dup % middle.length, 0, middle[dup % middle.length]!);
        const chain = [leaf, ...middle, root];
        const expected = referenceVerifies(chain.map((c) => c.der));
        const checks = new ChainChecks();
        let ok = true;
        try {
          verifyChain(parse(chain), checks);
        } catch (e) {
          assert.ok(isVellumError(e, 'INVALID_CERTIFICATE') && e.message === UNKNOWN, String(e));
          ok = false;
        }
        assert.equal(ok, expected);
        assert.ok(checks.used < chain.length * chain.length);
      },
    ),
    { numRuns: 150 },
  );
});
