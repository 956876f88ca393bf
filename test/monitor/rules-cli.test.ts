import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { parseRulesYaml } from '../../src/core/monitor/rules';
import { newKeyPair } from '../support/x509-builder';
import { CLI_MAIN } from '../support/server';
import { ADMIN_TOKEN, api, bootMonitor, sqliteDb } from './harness';

const dir = mkdtempSync(join(tmpdir(), 'vellum-rules-cli-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function vellum(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_MAIN, ...args], { cwd: dir }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 3) : 0;
      resolve({ code: typeof code === 'number' ? code : 3, stdout, stderr });
    });
  });
}

const CIP = file(
  'cip.yaml',
  `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: image-policy
spec:
  images:
  - glob: "**"
  authorities:
  - name: keyless
    keyless:
      url: https://fulcio.sigstore.dev
      identities:
      - issuer: https://accounts.google.com
        subject: foo@example.com
      - issuerRegExp: .*kubernetes.default.*
        subjectRegExp: .*kubernetes.io/namespaces/default/serviceaccounts/default
`,
);

test('rules import prints a valid rule whose metadata names each item origin; refusals exit 2 naming construct and file', async () => {
  const r = await vellum([
    'rules',
    'import',
    '--from',
    'policy-controller',
    CIP,
    '--scope',
    'subjectRegExp=.*@example\\.com',
    '--name',
    'signers',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rules = parseRulesYaml(r.stdout).rules;
  assert.equal(rules.length, 1);
  assert.equal(rules[0]!.id, 'signers');
  assert.equal(rules[0]!.expect!.length, 2);
  const doc = parse(r.stdout) as { metadata: { sources: Array<Record<string, string>> } };
  assert.deepEqual(
    doc.metadata.sources.map((s) => [s.item, s.policy, s.rule]),
    [
      ['expect[0]', 'image-policy', 'keyless'],
      ['expect[1]', 'image-policy', 'keyless'],
    ],
  );

  const bad = file(
    'pass.yaml',
    'apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: p}\nspec:\n  authorities:\n  - static: {action: pass}\n',
  );
  const refused = await vellum([
    'rules',
    'import',
    '--from',
    'policy-controller',
    CIP,
    bad,
    '--scope',
    'subject=x',
  ]);
  assert.equal(refused.code, 2);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /refused: static: pass: .*pass\.yaml/);

  const noScope = await vellum(['rules', 'import', '--from', 'kyverno', CIP]);
  assert.equal(noScope.code, 2);
  assert.match(noScope.stderr, /--scope MATCHER is required/);
});

test('rules import from a cosign script reads the --key file beside it as a fingerprint', async () => {
  const k = newKeyPair();
  writeFileSync(join(dir, 'cosign.pub'), k.publicKey.export({ type: 'spki', format: 'pem' }));
  const script = file(
    'verify.sh',
    '#!/bin/sh\ncosign verify --key cosign.pub ghcr.io/org/app:1\ncosign verify --key gcpkms://k img\n',
  );
  const r = await vellum(['rules', 'import', '--from', 'cosign', script, '--scope', '{kind: hashedrekord}']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--key gcpkms:\/\/k.*verify\.sh line 3/);
  writeFileSync(script, '#!/bin/sh\ncosign verify --key cosign.pub ghcr.io/org/app:1\n');
  const ok = await vellum(['rules', 'import', '--from', 'cosign', script, '--scope', '{kind: hashedrekord}']);
  assert.equal(ok.code, 0, ok.stderr);
  const fp = createHash('sha256')
    .update(k.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
  assert.deepEqual(parseRulesYaml(ok.stdout).rules[0]!.document.spec.expect, [
    { fingerprint: { equals: `sha256:${fp}` } },
  ]);
});

test('rules diff prints each disagreement once (file and server), exit 1; after --apply, none', async () => {
  const copy = file('cip-copy.yaml', `${(await import('node:fs')).readFileSync(CIP, 'utf8')}`);
  const live = file(
    'live.yaml',
    `apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: live}
spec:
  scope: [{subjectRegExp: '.*@example\\.com'}]
  expect:
    - {issuer: https://accounts.google.com, subject: foo@example.com}
    - {issuer: https://token.actions.githubusercontent.com, subject: ci@example.com}
    - {issuer: https://token.actions.githubusercontent.com, subject: {equals: ci@example.com}}
`,
  );
  const r = await vellum(['rules', 'diff', '--from', 'policy-controller', CIP, copy, '--rules', live]);
  assert.equal(r.code, 1, r.stderr);
  const heads = r.stdout.split('\n').filter((l) => /^(accepted|expected) by/.test(l));
  assert.equal(heads.length, 2, r.stdout);
  assert.match(heads[0]!, /^accepted by policy, expected by no rule: .*kubernetes/);
  assert.match(heads[1]!, /^expected by rule, accepted by no policy: .*ci@example\.com/);
  // The same identity from two files, and one rule item written twice, each show up once with every place.
  assert.match(r.stdout, /cip\.yaml policy image-policy[^\n]*\n {2}[^\n]*cip-copy\.yaml/);
  assert.match(r.stdout, /rule live expect\[1\]\n {2}rule live expect\[2\]/);
  assert.match(r.stdout, /2 disagreement\(s\)\n$/);

  const db = await sqliteDb();
  const m = await bootMonitor(db);
  try {
    const token = file('token', ADMIN_TOKEN + '\n');
    const server = ['--server', m.url, '--admin-token-file', token];
    const applied = await vellum([
      'rules',
      'import',
      '--from',
      'policy-controller',
      CIP,
      '--scope',
      'subjectRegExp=.*@example\\.com',
      '--name',
      'from-cip',
      '--apply',
      ...server,
    ]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /applied rule 'from-cip' \(digest [0-9a-f]{64}\)/);
    const got = await api(m, 'GET', '/v1/monitor/rules/from-cip');
    assert.equal(got.status, 200);
    const again = await vellum([
      'rules',
      'import',
      '--from',
      'policy-controller',
      CIP,
      '--scope',
      'subject=x',
      '--name',
      'from-cip',
      '--apply',
      ...server,
    ]);
    assert.equal(again.code, 2, "a taken name is the operator's to fix");
    assert.match(again.stderr, /HTTP 409/);
    const replaced = await vellum([
      'rules',
      'import',
      '--from',
      'policy-controller',
      CIP,
      '--scope',
      'subject=x',
      '--name',
      'from-cip',
      '--apply',
      '--replace',
      ...server,
    ]);
    assert.equal(replaced.code, 0, replaced.stderr);
    const same = await vellum(['rules', 'diff', '--from', 'policy-controller', CIP, ...server]);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    assert.equal(same.stdout, '0 disagreement(s)\n');
    const wrongToken = await vellum([
      'rules',
      'diff',
      '--from',
      'policy-controller',
      CIP,
      '--server',
      m.url,
      '--admin-token-file',
      file('bad-token', 'nope'),
    ]);
    assert.equal(wrongToken.code, 2);
    assert.match(wrongToken.stderr, /HTTP 403 .*invalid admin token/);
  } finally {
    await m.close();
    await db.cleanup();
  }
});
