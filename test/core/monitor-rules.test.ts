import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isVellumError } from '../../src/core/errors';
import { parseRules, parseRulesYaml, validateRules, validateRulesYaml } from '../../src/core/monitor/rules';

const SPEC_EXAMPLE = `
apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: release-signer, owner: team-a}
spec:
  scope:                      # entries the rule is about; any item matching = in scope
    - sourceRepositoryIdentifier: "123456"                 # OID .1.15, immutable
    - subjectRegExp: 'https://github\\.com/org/repo/.*'      # full match
    - fingerprint: sha256:${'ab12'.repeat(16)}
  expect:                     # allowlist: an in-scope entry must match at least one item
    - issuer: https://token.actions.githubusercontent.com
      subjectRegExp: 'https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/v\\d+\\.\\d+\\.\\d+'
      extensions:
        runner-environment: {equals: github-hosted}
        build-trigger: {in: [push, release]}
  action: alert               # alert | record | ignore
  severity: high
  notify: [webhook:sec-hook, email:oncall]
  backfill: {fromIndex: 0}
`;

const base = (spec: Record<string, unknown>, name = 'r1') => ({
  apiVersion: 'monitor.vellum/v1',
  kind: 'IdentityRule',
  metadata: { name },
  spec,
});

function errorsOf(input: unknown): Array<{ path: string; message: string }> {
  return validateRules(input).errors;
}

describe('rules: the spec example', () => {
  it('parses and normalises', () => {
    const { rules, warnings } = parseRulesYaml(SPEC_EXAMPLE);
    assert.equal(rules.length, 1);
    const r = rules[0]!;
    assert.equal(r.id, 'release-signer');
    assert.equal(r.action, 'alert');
    assert.equal(r.severity, 'high');
    assert.deepEqual(r.notify, ['webhook:sec-hook', 'email:oncall']);
    assert.deepEqual(r.backfill, { fromIndex: 0 });
    assert.equal(r.scope.length, 3);
    assert.equal(r.expect!.length, 1);
    assert.deepEqual(r.document.spec.scope[0], {
      extensions: { 'source-repository-identifier': { equals: '123456' } },
    });
    assert.deepEqual(r.document.spec.scope[2], { fingerprint: { equals: `sha256:${'ab12'.repeat(16)}` } });
    assert.deepEqual(r.document.spec.expect![0]!.extensions, {
      'runner-environment': { equals: 'github-hosted' },
      'build-trigger': { in: ['push', 'release'] },
    });
    assert.match(r.digest, /^[0-9a-f]{64}$/);
    assert.deepEqual(warnings, []);
    // The normalised document is itself a valid rule with the same digest.
    assert.equal(parseRules(r.document).rules[0]!.digest, r.digest);
  });

  it('full-match conditions: shorthand equals and RegExp', () => {
    const { rules } = parseRules(
      base({ scope: [{ subject: 'user@domain.com' }, { emailRegExp: 'user@domain\\.com' }] }),
    );
    const [eq, re] = rules[0]!.scope.map((i) => i.conditions[0]!);
    for (const c of [eq!, re!]) {
      assert.equal(c.test('user@domain.com'), true);
      assert.equal(c.test('xuser@domain.com.evil'), false);
    }
    assert.equal(eq!.op, 'equals');
    assert.equal(re!.op, 'regex');
  });
});

describe('rules: input forms', () => {
  it('YAML: several documents, lists of rules, empty documents', () => {
    const yaml = `
- apiVersion: monitor.vellum/v1
  kind: IdentityRule
  metadata: {name: a}
  spec: {scope: [{kind: dsse}]}
---
apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: b}
spec: {scope: [{email: x@y.z}], action: record}
---
`;
    const v = validateRulesYaml(yaml);
    assert.deepEqual(v.errors, []);
    assert.deepEqual(
      v.rules.map((r) => [r.id, r.action]),
      [
        ['a', 'alert'],
        ['b', 'record'],
      ],
    );
  });

  it('YAML scalars stay strings (failsafe schema): 0123 is not 123', () => {
    const { rules } = parseRulesYaml(`apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: a}
spec:
  scope: [{sourceRepositoryIdentifier: 0123}]
  backfill: {fromIndex: 42}
`);
    assert.deepEqual(rules[0]!.scope[0]!.conditions[0]!.values, ['0123']);
    assert.deepEqual(rules[0]!.backfill, { fromIndex: 42 });
  });

  it('YAML syntax errors and duplicate keys carry line numbers', () => {
    const v = validateRulesYaml('apiVersion: a\napiVersion: b\n');
    assert.equal(v.errors.length, 1);
    assert.match(v.errors[0]!.path, /document\[0\] line 2/);
    assert.throws(
      () => parseRulesYaml('a: [1\n'),
      (e) => isVellumError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('JSON: numbers accepted for string fields and indexes', () => {
    const { rules } = parseRules(
      base({ scope: [{ sourceRepositoryIdentifier: 123456 }], backfill: { fromIndex: 7 } }),
    );
    assert.deepEqual(rules[0]!.scope[0]!.conditions[0]!.values, ['123456']);
  });

  it('extensions by kebab name, camelCase name, dotted OID; .1.23 only by OID', () => {
    const { rules } = parseRules(
      base({
        scope: [
          {
            runnerEnvironment: 'self-hosted',
            extensions: {
              'build-trigger': 'push',
              '1.3.6.1.4.1.57264.1.23': { prefix: 'prod' },
              issuer: 'https://i',
            },
          },
        ],
      }),
    );
    const fields = rules[0]!.scope[0]!.conditions.map((c) =>
      c.field.kind === 'core' ? c.field.name : c.field.oid,
    );
    assert.deepEqual(
      fields.sort(),
      ['1.3.6.1.4.1.57264.1.11', '1.3.6.1.4.1.57264.1.20', '1.3.6.1.4.1.57264.1.23', 'issuer'].sort(),
    );
  });

  it('several operators on one field are ANDed', () => {
    const { rules } = parseRules(
      base({ scope: [{ subject: { prefix: 'https://github.com/', regex: '.*@refs/tags/.*' } }] }),
    );
    const conds = rules[0]!.scope[0]!.conditions;
    assert.equal(conds.length, 2);
  });
});

describe('rules: precise errors', () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    [
      'wrong apiVersion',
      { ...base({ scope: [{ kind: 'dsse' }] }), apiVersion: 'v1' },
      'apiVersion',
      /monitor\.vellum\/v1/,
    ],
    ['missing name', { ...base({ scope: [{ kind: 'dsse' }] }), metadata: {} }, 'metadata.name', /required/],
    ['bad name', base({ scope: [{ kind: 'dsse' }] }, 'Bad Name'), 'metadata.name', /lowercase/],
    ['no scope', base({}), 'spec.scope', /non-empty list/],
    ['empty scope item', base({ scope: [{}] }), 'spec.scope[0]', /at least one condition/],
    [
      'unknown field with suggestion',
      base({ scope: [{ subjectRegexp: 'x' }] }),
      'spec.scope[0].subjectRegexp',
      /did you mean 'subjectRegExp'/,
    ],
    [
      'unknown operator',
      base({ scope: [{ subject: { matches: 'x' } }] }),
      'spec.scope[0].subject.matches',
      /unknown operator/,
    ],
    [
      'in needs a list',
      base({ scope: [{ subject: { in: 'x' } }] }),
      'spec.scope[0].subject.in',
      /non-empty list/,
    ],
    ['list as value', base({ scope: [{ subject: ['a'] }] }), 'spec.scope[0].subject', /use \{in/],
    [
      'backreference',
      base({ scope: [{ subjectRegExp: '(a)\\1' }] }),
      'spec.scope[0].subjectRegExp',
      /backreferences/,
    ],
    [
      'lookahead in expect',
      base({ scope: [{ kind: 'dsse' }], expect: [{ issuer: 'i', subject: { regex: 'a(?=b)' } }] }),
      'spec.expect[0].subject.regex',
      /lookahead/,
    ],
    [
      'bad fingerprint',
      base({ scope: [{ fingerprint: 'sha256:abc' }] }),
      'spec.scope[0].fingerprint',
      /64 hex/,
    ],
    [
      'regex on fingerprint',
      base({ scope: [{ fingerprint: { regex: '.*' } }] }),
      'spec.scope[0].fingerprint.regex',
      /only 'equals' and 'in'/,
    ],
    ['unknown kind', base({ scope: [{ kind: 'hashedRekord' }] }), 'spec.scope[0].kind', /unknown entry kind/],
    [
      'non-Fulcio OID',
      base({ scope: [{ extensions: { '2.5.29.17': 'x' } }] }),
      'spec.scope[0].extensions["2.5.29.17"]',
      /only Fulcio extensions/,
    ],
    [
      'unknown extension',
      base({ scope: [{ extensions: { 'runner-enviroment': 'x' } }] }),
      'spec.scope[0].extensions.runner-enviroment',
      /did you mean 'runner-environment'/,
    ],
    [
      'bad action',
      base({ scope: [{ kind: 'dsse' }], action: 'page' }),
      'spec.action',
      /alert, record, ignore/,
    ],
    ['bad severity', base({ scope: [{ kind: 'dsse' }], severity: 'urgent' }), 'spec.severity', /critical/],
    [
      'bad notify',
      base({ scope: [{ kind: 'dsse' }], notify: ['sec-hook'] }),
      'spec.notify[0]',
      /<channel-type>:<name>/,
    ],
    [
      'bad backfill',
      base({ scope: [{ kind: 'dsse' }], backfill: { fromIndex: -1 } }),
      'spec.backfill.fromIndex',
      /non-negative/,
    ],
    [
      'unknown spec key',
      base({ scope: [{ kind: 'dsse' }], expects: [] }),
      'spec.expects',
      /did you mean 'expect'/,
    ],
    ['boolean value', base({ scope: [{ subject: true }] }), 'spec.scope[0].subject', /must be a string/],
    [
      'duplicate operator via shorthand',
      base({ scope: [{ subject: { regex: 'a' }, subjectRegExp: 'b' }] }),
      'spec.scope[0].subjectRegExp',
      /more than once/,
    ],
  ];
  for (const [title, input, path, msg] of cases) {
    it(title, () => {
      const errs = errorsOf(input);
      assert.ok(
        errs.some((e) => e.path === path && msg.test(e.message)),
        `expected ${path} ~ ${msg}, got ${JSON.stringify(errs)}`,
      );
    });
  }

  it('parseRules throws INVALID_ARGUMENT listing every error with its path', () => {
    assert.throws(
      () => parseRules([base({ scope: [{}] }, 'a'), base({ scope: [{ subjectRegExp: '(?<=x)' }] }, 'b')]),
      (e) =>
        isVellumError(e, 'INVALID_ARGUMENT') &&
        /\[0\]\.spec\.scope\[0\]/.test(e.message) &&
        /\[1\]\.spec\.scope\[0\]\.subjectRegExp: invalid regex .*lookbehind/.test(e.message) &&
        Array.isArray(e.details?.errors),
    );
  });

  it('duplicate rule names', () => {
    const v = validateRules([
      base({ scope: [{ kind: 'dsse' }] }, 'a'),
      base({ scope: [{ kind: 'dsse' }] }, 'a'),
    ]);
    assert.equal(v.rules.length, 1);
    assert.match(v.errors[0]!.message, /duplicate rule name/);
  });
});

describe('rules: lint warnings', () => {
  it('unescaped dot in a host', () => {
    const v = validateRules(base({ scope: [{ subjectRegExp: 'https://github.com/org/.*' }] }));
    assert.deepEqual(v.errors, []);
    assert.equal(v.warnings.length, 1);
    assert.equal(v.warnings[0]!.path, 'spec.scope[0].subjectRegExp');
    assert.match(v.warnings[0]!.message, /unescaped '\.'/);
  });

  it('expect item without issuer', () => {
    const v = validateRules(
      base({
        scope: [{ kind: 'dsse' }],
        expect: [{ subject: 'a@b.c' }, { issuer: 'https://i', subject: 'a@b.c' }],
      }),
    );
    assert.deepEqual(
      v.warnings.filter((w) => /issuer/.test(w.message)).map((w) => w.path),
      ['spec.expect[0]'],
    );
  });

  it('redundant anchors, kind-only scope', () => {
    const v = validateRules(base({ scope: [{ subjectRegExp: '^a$' }, { kind: 'dsse' }] }));
    assert.ok(v.warnings.some((w) => /redundant/.test(w.message)));
    assert.ok(v.warnings.some((w) => w.path === 'spec.scope[1]' && /every entry/.test(w.message)));
  });
});
