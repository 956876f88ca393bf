import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isVellumError } from '../../src/core/errors';
import { evaluate, scopeOf, type RuleOutcome } from '../../src/core/monitor/evaluate';
import { buildIdentityEvent } from '../../src/core/monitor/events';
import { extractIdentities, unparsableIdentity } from '../../src/core/monitor/identity';
import { parseRules, parseRulesYaml, type IdentityRule } from '../../src/core/monitor/rules';
import {
  buildCa,
  buildCertificate,
  dsseBody,
  fulcioExt,
  githubFulcioExtensions,
  hashedrekordBody,
  newKeyPair,
  pem,
  publicKeyPem,
  seq,
  type SanSpec,
} from '../support/x509-builder';
import { GH, ghCertFrom, releaseRuleYaml, type GhOpts } from '../support/monitor-rules';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const ca = buildCa();
const wf = (file: string, ref: string) => `https://github.com/org/repo/.github/workflows/${file}@${ref}`;

const RELEASE_RULE = parseRulesYaml(releaseRuleYaml()).rules;

const ghCert = (o: GhOpts = {}) => ghCertFrom(ca, o);

const idOf = (pemText: string, digest?: string) => extractIdentities(hashedrekordBody(pemText, digest));
const types = (o: RuleOutcome[]) => o.map((x) => x.eventType).sort();
const rule = (spec: Record<string, unknown>, name = 'r') =>
  parseRules({ apiVersion: 'monitor.vellum/v1', kind: 'IdentityRule', metadata: { name }, spec }).rules;

describe('evaluate: unexpected signer (acceptance test)', () => {
  it('release.yml@refs/tags/v1.2.3 on a GitHub-hosted runner is expected: no outcome', () => {
    assert.deepEqual(evaluate(RELEASE_RULE, idOf(ghCert().pem)), []);
  });

  it('ci.yml@refs/heads/main raises identity.unexpected', () => {
    const out = evaluate(RELEASE_RULE, idOf(ghCert({ file: 'ci.yml', ref: 'refs/heads/main' }).pem));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.eventType, 'identity.unexpected');
    assert.equal(out[0]!.ruleId, 'release-signer');
    assert.equal(out[0]!.severity, 'high');
    assert.equal(out[0]!.action, 'alert');
    assert.equal(out[0]!.expected, false);
    assert.deepEqual(
      out[0]!.reasons.map((r) => r.code),
      ['no-expect-match'],
    );
  });

  it('a self-hosted runner or an unexpected trigger raises identity.unexpected', () => {
    assert.deepEqual(types(evaluate(RELEASE_RULE, idOf(ghCert({ runner: 'self-hosted' }).pem))), [
      'identity.unexpected',
    ]);
    assert.deepEqual(types(evaluate(RELEASE_RULE, idOf(ghCert({ trigger: 'workflow_dispatch' }).pem))), [
      'identity.unexpected',
    ]);
    assert.deepEqual(types(evaluate(RELEASE_RULE, idOf(ghCert({ ref: 'refs/tags/v1.2.3-rc' }).pem))), [
      'identity.unexpected',
    ]);
  });

  it('entries of another repository are out of scope', () => {
    assert.deepEqual(evaluate(RELEASE_RULE, idOf(ghCert({ file: 'ci.yml', repoId: '999' }).pem)), []);
  });

  it('a pre-registered run invocation URI marks the entry expected instead of alerting', () => {
    const runUri = 'https://github.com/org/repo/actions/runs/42/attempts/1';
    const id = idOf(ghCert({ file: 'ci.yml', ref: 'refs/heads/main', runUri }).pem);
    const out = evaluate(RELEASE_RULE, id, { expectations: [{ id: 'exp-1', runInvocationUri: runUri }] });
    assert.equal(out.length, 1);
    assert.equal(out[0]!.expected, true);
    assert.deepEqual(out[0]!.expectationIds, ['exp-1']);
    // A different run is not covered.
    const other = evaluate(RELEASE_RULE, id, {
      expectations: [{ id: 'exp-2', runInvocationUri: runUri.replace('42', '43') }],
    });
    assert.equal(other[0]!.expected, false);
  });

  it('a pre-registered digest works too; expiry and rule restriction are honoured', () => {
    const digest = '5e'.repeat(32);
    const id = idOf(ghCert({ file: 'ci.yml' }).pem, digest);
    const ok = evaluate(RELEASE_RULE, id, {
      expectations: [{ id: 'd', digest: `sha256:${digest.toUpperCase()}` }],
    });
    assert.equal(ok[0]!.expected, true);
    const expired = evaluate(RELEASE_RULE, id, {
      expectations: [{ id: 'd', digest, expiresAtMs: 1000 }],
      nowMs: 2000,
    });
    assert.equal(expired[0]!.expected, false);
    const live = evaluate(RELEASE_RULE, id, {
      expectations: [{ id: 'd', digest, expiresAtMs: 3000 }],
      nowMs: 2000,
    });
    assert.equal(live[0]!.expected, true);
    const otherRule = evaluate(RELEASE_RULE, id, { expectations: [{ id: 'd', digest, rule: 'another' }] });
    assert.equal(otherRule[0]!.expected, false);
    assert.throws(
      () => evaluate(RELEASE_RULE, id, { expectations: [{ id: 'd', digest, expiresAtMs: 1 }] }),
      (e) => isVellumError(e, 'INVALID_ARGUMENT'),
    );
    assert.throws(
      () => evaluate(RELEASE_RULE, id, { expectations: [{ id: 'd' }] }),
      (e) => isVellumError(e, 'INVALID_ARGUMENT'),
    );
  });
});

describe('evaluate: anchoring (acceptance test)', () => {
  const rules = [
    ...rule({ scope: [{ subject: 'user@domain.com' }] }, 'eq'),
    ...rule({ scope: [{ subjectRegExp: 'user@domain\\.com' }] }, 're'),
    ...rule({ scope: [{ email: { glob: 'user@domain.com' } }] }, 'glob'),
  ];
  const cert = (sans: SanSpec[]) =>
    idOf(
      buildCertificate({ issuer: ca, sans, extensions: [fulcioExt(8, 'https://github.com/login/oauth')] })
        .pem,
    );

  it('user@domain.com and user@domain\\.com do not match xuser@domain.com.evil', () => {
    assert.deepEqual(evaluate(rules, cert([{ email: 'xuser@domain.com.evil' }])), []);
    assert.deepEqual(evaluate(rules, cert([{ email: 'xuser@domain.com' }])), []);
    assert.deepEqual(evaluate(rules, cert([{ email: 'user@domain.com.evil' }])), []);
  });

  it('they match the exact identity, in any SAN position', () => {
    const out = evaluate(rules, cert([{ uri: 'https://other' }, { email: 'user@domain.com' }]));
    assert.deepEqual(
      out.map((o) => [o.ruleId, o.eventType]),
      [
        ['eq', 'identity.matched'],
        ['re', 'identity.matched'],
        ['glob', 'identity.matched'],
      ],
    );
  });
});

describe('evaluate: issuer', () => {
  const scoped = rule({ scope: [{ issuer: GH, subject: wf('release.yml', 'refs/tags/v1.2.3') }] });

  it('.1.1 is used when .1.8 is absent', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [{ uri: wf('release.yml', 'refs/tags/v1.2.3') }],
      extensions: [fulcioExt(1, GH)],
    });
    assert.deepEqual(types(evaluate(scoped, idOf(c.pem))), ['identity.matched']);
  });

  it('a certificate with neither issuer OID never matches an issuer condition', () => {
    const c = buildCertificate({ issuer: ca, sans: [{ uri: wf('release.yml', 'refs/tags/v1.2.3') }] });
    assert.deepEqual(evaluate(scoped, idOf(c.pem)), []);
  });

  it('.1.8 and .1.1 disagreeing: in scope by either, and always an alert', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [{ uri: wf('release.yml', 'refs/tags/v1.2.3') }],
      extensions: [fulcioExt(1, GH), fulcioExt(8, 'https://evil.example')],
    });
    const out = evaluate(scoped, idOf(c.pem));
    assert.deepEqual(types(out), ['identity.matched', 'identity.unexpected']);
    const un = out.find((o) => o.eventType === 'identity.unexpected')!;
    assert.deepEqual(
      un.reasons.map((r) => r.code),
      ['issuer-disagreement'],
    );
    // With expect: both issuer values must match, so the entry is also not expected.
    const withExpect = rule({
      scope: [{ subject: wf('release.yml', 'refs/tags/v1.2.3') }],
      expect: [{ issuer: GH }],
    });
    const out2 = evaluate(withExpect, idOf(c.pem), { expectations: [{ id: 'x', digest: 'ab'.repeat(32) }] });
    assert.equal(out2.length, 1);
    assert.deepEqual(out2[0]!.reasons.map((r) => r.code).sort(), ['issuer-disagreement', 'no-expect-match']);
    assert.equal(out2[0]!.expected, false); // expectations never cover an issuer disagreement
  });

  it('issuer agreement passes the same expect item', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [{ uri: wf('release.yml', 'refs/tags/v1.2.3') }],
      extensions: [fulcioExt(1, GH), fulcioExt(8, GH)],
    });
    const withExpect = rule({
      scope: [{ subject: wf('release.yml', 'refs/tags/v1.2.3') }],
      expect: [{ issuer: GH }],
    });
    assert.deepEqual(evaluate(withExpect, idOf(c.pem)), []);
  });
});

describe('evaluate: fail-safe on malformed identities', () => {
  it('a malformed scope field (.1.15 with trailing bytes) gives entry.malformed, not silence', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [{ uri: wf('ci.yml', 'refs/heads/main') }],
      extensions: [fulcioExt(8, GH), fulcioExt(15, '123456', 'utf8-trailing')],
    });
    const out = evaluate(RELEASE_RULE, idOf(c.pem));
    assert.deepEqual(types(out), ['entry.malformed']);
    assert.deepEqual(
      out[0]!.reasons.map((r) => r.code),
      ['scope-undetermined'],
    );
    assert.match(out[0]!.reasons[0]!.message, /trailing/);
  });

  it('a malformed field decides nothing when another condition is false', () => {
    const c = buildCertificate({
      issuer: ca,
      extensions: [fulcioExt(8, 'https://other'), fulcioExt(15, '123456', 'wrong-tag')],
    });
    const r = rule({ scope: [{ issuer: GH, sourceRepositoryIdentifier: '123456' }] });
    assert.deepEqual(evaluate(r, idOf(c.pem)), []);
  });

  it('in scope with a malformed field elsewhere: matched plus entry.malformed', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [{ email: 'user@domain.com' }],
      extensions: [fulcioExt(8, GH), fulcioExt(11, 'github-hosted', 'utf8-trailing')],
    });
    const out = evaluate(rule({ scope: [{ subject: 'user@domain.com' }] }), idOf(c.pem));
    assert.deepEqual(types(out), ['entry.malformed', 'identity.matched']);
  });

  it('an undecidable expect item gives entry.malformed instead of unexpected or expected', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [{ uri: wf('release.yml', 'refs/tags/v1.2.3') }],
      extensions: [
        ...githubFulcioExtensions({}).filter((e) => !e.oid.endsWith('.11')),
        fulcioExt(11, 'github-hosted', 'wrong-tag'),
      ],
    });
    const out = evaluate(RELEASE_RULE, idOf(c.pem));
    assert.deepEqual(types(out), ['entry.malformed']);
    assert.ok(out[0]!.reasons.some((r) => r.code === 'expect-undetermined'));
  });

  it('an unparsable certificate is possibly yours for every rule that looks at identities', () => {
    const garbage = pem('CERTIFICATE', seq(Buffer.from([0x02, 0x01, 0x01])));
    const id = idOf(garbage);
    assert.deepEqual(types(evaluate(RELEASE_RULE, id)), ['entry.malformed']);
    assert.deepEqual(types(evaluate(rule({ scope: [{ subject: 'a@b.c' }] }), id)), ['entry.malformed']);
    // ...but a rule that only cares about another kind can decide without the certificate.
    assert.deepEqual(evaluate(rule({ scope: [{ kind: 'dsse' }] }), id), []);
    // The certificate's own fingerprint is still known: in scope, and still reported as malformed.
    const fp = sha256(seq(Buffer.from([0x02, 0x01, 0x01])));
    assert.deepEqual(types(evaluate(rule({ scope: [{ fingerprint: `sha256:${fp}` }] }), id)), [
      'entry.malformed',
      'identity.matched',
    ]);
  });

  it('unknown kinds via unparsableIdentity', () => {
    const id = unparsableIdentity('rekord', '0.0.1', 'unsupported kind');
    assert.deepEqual(types(evaluate(RELEASE_RULE, id)), ['entry.malformed']);
    assert.deepEqual(evaluate(rule({ scope: [{ kind: 'dsse' }] }), id), []);
  });

  it('an entry without any verifier is evaluated as one unknown signer', () => {
    const id = extractIdentities({ kind: 'dsse', apiVersion: '0.0.1', spec: {} });
    assert.deepEqual(types(evaluate(RELEASE_RULE, id)), ['entry.malformed']);
  });
});

describe('evaluate: keys, signers, actions', () => {
  it('bare-key fingerprints (SPKI), certificate and certificate-key fingerprints', () => {
    const keys = newKeyPair();
    const spki = sha256(keys.publicKey.export({ type: 'spki', format: 'der' }));
    const r = rule({ scope: [{ fingerprint: `sha256:${spki.toUpperCase()}` }] });
    assert.deepEqual(types(evaluate(r, idOf(publicKeyPem(keys)))), ['identity.matched']);
    const c = buildCertificate({ issuer: ca, keys, sans: [{ email: 'a@b.c' }] });
    assert.deepEqual(types(evaluate(r, idOf(c.pem))), ['identity.matched']); // same key inside a certificate
    const byCert = rule({ scope: [{ fingerprint: { in: [sha256(c.der)] } }] });
    assert.deepEqual(types(evaluate(byCert, idOf(c.pem))), ['identity.matched']);
    assert.deepEqual(evaluate(r, idOf(publicKeyPem(newKeyPair()))), []);
    // Subject conditions never match a bare key.
    assert.deepEqual(evaluate(rule({ scope: [{ subjectRegExp: '.*' }] }), idOf(publicKeyPem(keys))), []);
  });

  it('conditions of one item must hold for the same signer', () => {
    const a = buildCertificate({
      issuer: ca,
      sans: [{ email: 'a@x.y' }],
      extensions: [fulcioExt(8, 'https://other')],
    });
    const b = buildCertificate({ issuer: ca, sans: [{ email: 'b@x.y' }], extensions: [fulcioExt(8, GH)] });
    const id = extractIdentities(dsseBody([a.pem, b.pem]));
    assert.deepEqual(evaluate(rule({ scope: [{ email: 'a@x.y', issuer: GH }] }), id), []);
    assert.deepEqual(scopeOf(rule({ scope: [{ email: 'b@x.y', issuer: GH }] })[0]!, id), ['no', 'yes']);
  });

  it('one unexpected signer among expected ones raises identity.unexpected for that signer', () => {
    const good = ghCert();
    const bad = ghCert({ file: 'ci.yml', ref: 'refs/heads/main' });
    const out = evaluate(RELEASE_RULE, extractIdentities(dsseBody([good.pem, bad.pem])));
    assert.equal(out.length, 1);
    assert.equal(out[0]!.eventType, 'identity.unexpected');
    assert.deepEqual(out[0]!.signers, [1]);
  });

  it('extension conditions by dotted OID and the OtherName SAN', () => {
    const c = buildCertificate({
      issuer: ca,
      sans: [{ otherName: 'octocat!github.com' }],
      extensions: [fulcioExt(23, 'production')],
    });
    const r = rule({
      scope: [
        {
          extensions: {
            '1.3.6.1.4.1.57264.1.23': 'production',
            '1.3.6.1.4.1.57264.1.7': { prefix: 'octocat!' },
          },
        },
      ],
    });
    assert.deepEqual(types(evaluate(r, idOf(c.pem))), ['identity.matched']);
    assert.deepEqual(types(evaluate(rule({ scope: [{ subject: 'octocat!github.com' }] }), idOf(c.pem))), [
      'identity.matched',
    ]);
  });

  it('IP conditions compare canonical forms', () => {
    const c = buildCertificate({ issuer: ca, sans: [{ ip: '2001:db8::1' }, { ip: '10.0.0.1' }] });
    assert.deepEqual(types(evaluate(rule({ scope: [{ ip: '2001:DB8:0:0::0001' }] }), idOf(c.pem))), [
      'identity.matched',
    ]);
    assert.deepEqual(types(evaluate(rule({ scope: [{ ip: { in: ['10.0.0.1'] } }] }), idOf(c.pem))), [
      'identity.matched',
    ]);
    assert.deepEqual(evaluate(rule({ scope: [{ ip: '10.0.0.2' }] }), idOf(c.pem)), []);
  });

  it('action ignore produces nothing; record is passed through', () => {
    const c = ghCert({ file: 'ci.yml' });
    const ignore = rule({ scope: [{ sourceRepositoryIdentifier: '123456' }], action: 'ignore' });
    const record = rule({ scope: [{ sourceRepositoryIdentifier: '123456' }], action: 'record' });
    assert.deepEqual(evaluate(ignore, idOf(c.pem)), []);
    const out = evaluate(record, idOf(c.pem));
    assert.equal(out[0]!.action, 'record');
    assert.equal(out[0]!.ruleDigest, (record[0] as IdentityRule).digest);
  });
});

describe('evaluate + events: an entry that carries no verifier at all', () => {
  it('is evaluated as one unparsable signer and its event builds without throwing', () => {
    const bare = {
      ...unparsableIdentity('hashedrekord', '0.0.1', 'no verifier'),
      signers: [],
      malformed: [],
    };
    const r = rule({ scope: [{ kind: 'hashedrekord' }] });
    const out = evaluate(r, bare);
    assert.ok(out.length > 0, 'an entry with no signer must not fall out of scope silently');
    for (const o of out) {
      assert.deepEqual(o.signers, [0]);
      const ev = buildIdentityEvent(o, bare, { logOrigin: 'log.example - 1', index: 7 }, 1_700_000_000_000);
      assert.equal(ev.event.type, o.eventType);
      assert.match((ev.event.data as { summary: string }).summary, /undecodable identity/);
    }
  });
});
