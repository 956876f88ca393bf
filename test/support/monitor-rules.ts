/** Identity rules the monitor tests share (YAML as an operator writes it). */

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
