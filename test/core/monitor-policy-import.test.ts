import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { evaluate } from '../../src/core/monitor/evaluate';
import { extractIdentities } from '../../src/core/monitor/identity';
import { compileRegex } from '../../src/core/monitor/regex';
import { parseRulesYaml } from '../../src/core/monitor/rules';
import {
  buildImportedRule,
  diffPolicies,
  importPolicies,
  kyvernoWildcardToGlob,
  unanchoredToFullMatch,
  type ImportSource,
} from '../../src/core/monitor/policy-import';
import {
  buildCa,
  buildCertificate,
  fulcioExt,
  hashedrekordBody,
  newKeyPair,
  type SanSpec,
} from '../support/x509-builder';

const ca = buildCa();
const GOOGLE = 'https://accounts.google.com';
const GH = 'https://token.actions.githubusercontent.com';

function cert(sans: SanSpec[], issuer: string): string {
  return buildCertificate({ issuer: ca, sans, extensions: [fulcioExt(1, issuer), fulcioExt(8, issuer)] }).pem;
}
const idOf = (pem: string) => extractIdentities(hashedrekordBody(pem));

/** Kyverno's documented keyless example (kyverno.io "Verify Images Rules"), plus a key attestor. */
const KYVERNO_POLICY = (keyPem: string) => `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: check-image-keyless
spec:
  validationFailureAction: Enforce
  webhookTimeoutSeconds: 30
  rules:
    - name: check-image-keyless
      match:
        any:
        - resources:
            kinds:
              - Pod
      verifyImages:
      - imageReferences:
        - "ghcr.io/kyverno/test-verify-image:signed-keyless"
        attestors:
        - entries:
          - keyless:
              subject: "*@nirmata.com"
              issuer: "https://accounts.google.com"
              rekor:
                url: https://rekor.sigstore.dev
          - keyless:
              subjectRegExp: https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/v.*
              issuer: ${GH}
    - name: check-image-key
      verifyImages:
      - imageReferences: ["ghcr.io/org/*"]
        attestors:
        - count: 1
          entries:
          - keys:
              publicKeys: |-
${keyPem
  .trim()
  .split('\n')
  .map((l) => `                ${l}`)
  .join('\n')}
`;

/** policy-controller's documented ClusterImagePolicy shape (docs.sigstore.dev, "Configuring image policies"). */
const PC_POLICY = `
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: image-policy
spec:
  images:
  - glob: "**"
  authorities:
  - name: keyless-authority
    keyless:
      url: https://fulcio.sigstore.dev
      identities:
      - issuer: https://accounts.google.com
        subject: foo@example.com
      - issuerRegExp: .*kubernetes.default.*
        subjectRegExp: .*kubernetes.io/namespaces/default/serviceaccounts/default
    ctlog:
      url: https://rekor.sigstore.dev
`;

function rulesFor(source: ImportSource, text: string, scope: unknown[] = [{ subjectRegExp: '(?s:.*)' }]) {
  const imp = importPolicies(source, [{ name: 'policy.yaml', text }]);
  assert.deepEqual(imp.refusals, []);
  const built = buildImportedRule(imp.identities, { source, name: 'imported', scope });
  assert.deepEqual(built.errors, []);
  return { imp, built, rule: built.rule! };
}

describe('kyverno import', () => {
  const key = newKeyPair();
  const spki = key.publicKey.export({ type: 'spki', format: 'der' });
  const keyPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();

  it('turns keyless wildcards, regexes and keys into expect items with their origin', () => {
    const { built } = rulesFor('kyverno', KYVERNO_POLICY(keyPem));
    const spec = built.document.spec as { expect: unknown[] };
    assert.deepEqual(spec.expect, [
      { subject: { glob: '*@nirmata.com' }, issuer: GOOGLE },
      {
        subjectRegExp:
          '(?s:.*)(?:https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/v.*)(?s:.*)',
        issuer: GH,
      },
      { fingerprint: `sha256:${createHash('sha256').update(spki).digest('hex')}` },
    ]);
    const sources = (built.document.metadata as { sources: Array<Record<string, string>> }).sources;
    assert.deepEqual(sources[0], {
      item: 'expect[0]',
      file: 'policy.yaml',
      policy: 'check-image-keyless',
      rule: 'check-image-keyless',
      path: 'document[0].spec.rules[0].verifyImages[0].attestors[0].entries[0].keyless',
    });
    assert.equal(sources[2]!.rule, 'check-image-key');
  });

  it('an accepted identity is expected; an unaccepted one alerts', () => {
    // Every hashedrekord is in scope, so key-signed entries are judged too.
    const { rule } = rulesFor('kyverno', KYVERNO_POLICY(keyPem), [{ kind: 'hashedrekord' }]);
    assert.deepEqual(evaluate([rule], idOf(cert([{ email: 'alice@nirmata.com' }], GOOGLE))), []);
    const other = evaluate([rule], idOf(cert([{ email: 'alice@nirmata.com.evil' }], GOOGLE)));
    assert.deepEqual(
      other.map((o) => o.eventType),
      ['identity.unexpected'],
    );
    // Right subject, wrong issuer.
    assert.equal(evaluate([rule], idOf(cert([{ email: 'alice@nirmata.com' }], GH))).length, 1);
    // The listed key is expected; another key is not.
    const keyed = extractIdentities(hashedrekordBody(keyPem));
    assert.deepEqual(evaluate([rule], keyed), []);
    const otherKey = newKeyPair().publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.equal(evaluate([rule], extractIdentities(hashedrekordBody(otherKey))).length, 1);
  });

  it('refuses conditions, CEL policies, nested attestors and secrets, naming the construct and file', () => {
    const text = `
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: attest}
spec:
  rules:
  - name: r
    verifyImages:
    - imageReferences: ["*"]
      attestations:
      - predicateType: https://slsa.dev/provenance/v0.2
        attestors:
        - entries:
          - keyless: {subject: a@b.c, issuer: ${GOOGLE}}
        conditions:
        - all:
          - key: "{{ builder.id }}"
            operator: Equals
            value: x
      attestors:
      - entries:
        - attestor: {entries: [{keyless: {subject: x}}]}
        - keys: {kms: "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"}
---
apiVersion: policies.kyverno.io/v1alpha1
kind: ImageValidatingPolicy
metadata: {name: cel}
spec:
  validations:
  - expression: "images.containers.map(image, verifyImageSignatures(image, [attestors.notary])).all(e, e > 0)"
`;
    const imp = importPolicies('kyverno', [{ name: 'k.yaml', text }]);
    assert.deepEqual(imp.identities, []);
    assert.deepEqual(
      imp.refusals.map((r) => r.construct),
      ['attestor', 'keys.kms', 'conditions', 'CEL policy (ImageValidatingPolicy)'],
    );
    for (const r of imp.refusals) assert.match(r.message, /k\.yaml/);
  });
});

describe('policy-controller import', () => {
  it('keeps exact identities exact and makes the unanchored regexes full matches', () => {
    const { rule, built } = rulesFor('policy-controller', PC_POLICY);
    assert.deepEqual((built.document.spec as { expect: unknown[] }).expect, [
      { issuer: GOOGLE, subject: 'foo@example.com' },
      {
        issuerRegExp: '(?s:.*)(?:.*kubernetes.default.*)(?s:.*)',
        subjectRegExp: '(?s:.*)(?:.*kubernetes.io/namespaces/default/serviceaccounts/default)(?s:.*)',
      },
    ]);
    const sa = 'https://kubernetes.io/namespaces/default/serviceaccounts/default';
    const k8s = 'https://kubernetes.default.svc.cluster.local';
    assert.deepEqual(evaluate([rule], idOf(cert([{ email: 'foo@example.com' }], GOOGLE))), []);
    assert.deepEqual(evaluate([rule], idOf(cert([{ uri: sa }], k8s))), []);
    // Unanchored in the source, so a longer SAN is accepted there, and here too.
    assert.deepEqual(evaluate([rule], idOf(cert([{ uri: `${sa}-x` }], k8s))), []);
    assert.equal(evaluate([rule], idOf(cert([{ email: 'xfoo@example.com' }], GOOGLE))).length, 1);
    assert.equal(evaluate([rule], idOf(cert([{ uri: sa.replace('default/', 'prod/') }], k8s))).length, 1);
  });

  it('refuses static: pass, CUE policies and keys it cannot see', () => {
    const text = `
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: p}
spec:
  images: [{glob: "**"}]
  authorities:
  - static: {action: pass}
  - key: {kms: "awskms:///arn:aws:kms:us-east-1:1:key/k"}
  - keyless: {url: https://fulcio.sigstore.dev}
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: q}
spec:
  authorities: [{keyless: {identities: [{issuer: x, subject: y}]}}]
  policy: {type: cue, data: "predicateType: x"}
`;
    const imp = importPolicies('policy-controller', [{ name: 'cip.yaml', text }]);
    assert.deepEqual(imp.identities, []);
    assert.deepEqual(
      imp.refusals.map((r) => r.construct),
      ['static: pass', 'key.kms', 'keyless without identities', 'policy'],
    );
    assert.match(imp.refusals[0]!.message, /static: pass.*cip\.yaml/);
  });
});

describe('cosign script import', () => {
  it('reads identity flags from shell lines, with continuations and quotes', () => {
    const script = `#!/bin/sh
set -eu
# cosign verify --certificate-identity=commented@out.example --certificate-oidc-issuer=x img
cosign verify \\
  --certificate-identity-regexp '^https://github\\.com/org/' \\
  --certificate-oidc-issuer="${GH}" \\
  ghcr.io/org/app:1
cosign verify-blob --certificate-identity=ops@example.com --certificate-oidc-issuer ${GOOGLE} --signature s f
cosign verify --certificate-identity "$SIGNER" --certificate-oidc-issuer ${GOOGLE} img
`;
    const imp = importPolicies('cosign', [{ name: 'verify.sh', text: script }]);
    assert.deepEqual(
      imp.identities.map((i) => [i.item, i.origin.path]),
      [
        [{ subjectRegExp: '(?s:.*)(?:^https://github\\.com/org/)(?s:.*)', issuer: GH }, 'line 4'],
        [{ subject: 'ops@example.com', issuer: GOOGLE }, 'line 8'],
      ],
    );
    assert.deepEqual(
      imp.refusals.map((r) => [r.construct, r.path]),
      [['--certificate-identity $…', 'line 9']],
    );
  });
});

describe('rekor-monitor import', () => {
  const config = `
monitoredValues:
  certIdentities:
    - certSubject: user@domain\\.com
    - certSubject: https://github\\.com/org/.*
      issuers:
        - https://token\\.actions\\.githubusercontent\\.com
  fingerprints:
    - ${'AB'.repeat(32)}
`;
  it('watched identities become the scope of an any-match rule, unanchored as rekor-monitor matches', () => {
    const { rule, built } = rulesFor('rekor-monitor', config);
    assert.equal((built.document.spec as { expect?: unknown }).expect, undefined);
    assert.equal((built.document.spec as { scope: unknown[] }).scope.length, 3);
    const hit = (pem: string) => evaluate([rule], idOf(pem)).map((o) => o.eventType);
    // rekor-monitor's own (documented) unanchored behaviour is kept, not silently tightened.
    assert.deepEqual(hit(cert([{ email: 'xuser@domain.com.evil' }], GOOGLE)), ['identity.matched']);
    assert.deepEqual(hit(cert([{ email: 'someone@else.com' }], GOOGLE)), []);
    assert.deepEqual(hit(cert([{ uri: 'https://github.com/org/x' }], GH)), ['identity.matched']);
    assert.deepEqual(hit(cert([{ uri: 'https://github.com/org/x' }], GOOGLE)), []);
  });

  it('refuses PGP subjects and short fingerprints', () => {
    const imp = importPolicies('rekor-monitor', [
      { name: 'rm.yaml', text: 'monitoredValues:\n  subjects: [a@b.c]\n  fingerprints: [A0B1C2]\n' },
    ]);
    assert.deepEqual(imp.refusals.map((r) => r.construct).sort(), ['fingerprints', 'subjects']);
  });
});

describe('rules diff', () => {
  it('prints each disagreement once, in both directions', () => {
    const imp = importPolicies('policy-controller', [
      { name: 'a.yaml', text: PC_POLICY },
      { name: 'b.yaml', text: PC_POLICY },
    ]);
    const live = parseRulesYaml(`
apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: live}
spec:
  scope: [{subjectRegExp: '.*'}]
  expect:
    - {issuer: {equals: ${GOOGLE}}, subject: foo@example.com}
    - {issuer: ${GH}, subject: ci@example.com}
---
apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: live2}
spec:
  scope: [{subjectRegExp: '.*'}]
  expect:
    - {issuer: ${GH}, subject: ci@example.com}
`).rules;
    const { disagreements, errors } = diffPolicies('policy-controller', imp.identities, live);
    assert.deepEqual(errors, []);
    assert.deepEqual(
      disagreements.map((d) => [d.side, d.where]),
      [
        [
          'policy-only',
          [
            'a.yaml policy image-policy rule keyless-authority document[0].spec.authorities[0].keyless.identities[1]',
            'b.yaml policy image-policy rule keyless-authority document[0].spec.authorities[0].keyless.identities[1]',
          ],
        ],
        ['rule-only', ['rule live expect[1]', 'rule live2 expect[0]']],
      ],
    );
  });
});

/**
 * Go's regexp.MatchString searches; JavaScript's RegExp.test searches too and agrees with Go on
 * this subset (ASCII literals, `.`, classes, `*+?`, `{n,m}`, groups, `|`, `^`, `$`, no flags).
 */
const atom = fc.oneof(
  fc.constantFrom('a', 'b', '.', '\\.', '[ab]', '[^a]', '\\n', 'x'),
  fc.constant('(?:a|b)'),
);
const piece = fc.tuple(atom, fc.constantFrom('', '*', '+', '?', '{1,2}')).map(([a, q]) => a + q);
const branch = fc.array(piece, { minLength: 1, maxLength: 4 }).map((p) => p.join(''));
const source = fc
  .tuple(fc.boolean(), fc.array(branch, { minLength: 1, maxLength: 3 }), fc.boolean())
  .map(([s, b, e]) => `${s ? '^' : ''}${b.join('|')}${e ? '$' : ''}`);
const input = fc
  .array(fc.constantFrom('a', 'b', '.', '\n', 'x', 'y'), { maxLength: 8 })
  .map((c) => c.join(''));

describe('translated regexes accept exactly what the source semantics accept', () => {
  it('unanchored Go MatchString == Vellum full match of the translation (property)', () => {
    fc.assert(
      fc.property(source, input, (src, s) => {
        const translated = compileRegex(unanchoredToFullMatch(src));
        assert.equal(
          translated.test(s),
          new RegExp(src).test(s),
          `${JSON.stringify(src)} on ${JSON.stringify(s)}`,
        );
        // The reference itself must agree with RE2's own unanchored search.
        assert.equal(RE2JS.compile(src).matcher(s).find(), new RegExp(src).test(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('a Kyverno wildcard == its Vellum glob (property, against a slow oracle)', () => {
    const wildcardOracle = (p: string, s: string): boolean => {
      if (p === '') return s === '';
      if (p[0] === '*') return wildcardOracle(p.slice(1), s) || (s !== '' && wildcardOracle(p, s.slice(1)));
      if (s === '') return false;
      return (p[0] === '?' || p[0] === s[0]) && wildcardOracle(p.slice(1), s.slice(1));
    };
    const pat = fc
      .array(fc.constantFrom('a', '*', '?', '\\', '.', 'b'), { maxLength: 6 })
      .map((c) => c.join(''));
    const str = fc.array(fc.constantFrom('a', 'b', '\\', '.', '\n'), { maxLength: 6 }).map((c) => c.join(''));
    fc.assert(
      fc.property(pat, str, (p, s) => {
        const rule = buildImportedRule(
          [{ item: { subject: { glob: kyvernoWildcardToGlob(p) } }, origin: { file: 'f', path: 'p' } }],
          { source: 'kyverno', name: 'w', scope: [{ subject: 'z' }] },
        ).rule!;
        const cond = rule.expect![0]!.conditions[0]!;
        assert.equal(cond.test(s), wildcardOracle(p, s));
      }),
      { numRuns: 2000 },
    );
  });

  it('a fragment that is not a regex on its own is refused, not closed by the wrapper', () => {
    assert.throws(() => unanchoredToFullMatch('a)|(b'), /not a valid RE2 regex/);
    // An unterminated \\Q quotes only the source, never the wrapper.
    assert.equal(compileRegex(unanchoredToFullMatch('\\Qa.b')).test('xa.by'), true);
    assert.equal(compileRegex(unanchoredToFullMatch('\\Qa.b')).test('xaxby'), false);
  });
});
