/** Identity rules the monitor tests share (YAML as an operator writes it), and the certificates they are about. */
import { buildCertificate, githubFulcioExtensions, type BuiltCert } from './x509-builder';

export const GH = 'https://token.actions.githubusercontent.com';

/**
 * The release-signer rule: entries of source repository 123456 must come from the release
 * workflow on a version tag, on a GitHub-hosted runner, triggered by a push or a release.
 * `metadata` is the rule's YAML flow mapping (name, owner).
 */
export function releaseRuleYaml(metadata = '{name: release-signer}'): string {
  return `
apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: ${metadata}
spec:
  scope:
    - sourceRepositoryIdentifier: "123456"
  expect:
    - issuer: ${GH}
      subjectRegExp: 'https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/v\\d+\\.\\d+\\.\\d+'
      extensions:
        runner-environment: {equals: github-hosted}
        build-trigger: {in: [push, release]}
  severity: high
`;
}

export interface GhOpts {
  file?: string;
  ref?: string;
  runner?: string;
  trigger?: string;
  repoId?: string;
  runUri?: string;
}

/** A Fulcio-style GitHub Actions certificate from `ca`: org/repo's workflow `file` at `ref`. */
export function ghCertFrom(ca: BuiltCert, o: GhOpts = {}): BuiltCert {
  const file = o.file ?? 'release.yml';
  const ref = o.ref ?? 'refs/tags/v1.2.3';
  return buildCertificate({
    issuer: ca,
    sans: [{ uri: `https://github.com/org/repo/.github/workflows/${file}@${ref}` }],
    extensions: githubFulcioExtensions({
      workflowRef: `.github/workflows/${file}@${ref}`,
      ...(o.runner ? { runnerEnvironment: o.runner } : {}),
      ...(o.trigger ? { trigger: o.trigger } : {}),
      ...(o.repoId ? { repoId: o.repoId } : {}),
      ...(o.runUri ? { runUri: o.runUri } : {}),
    }),
  });
}
