/**
 * The repository stands on its own: no source, test, script or document points at the planning
 * material beside it (the shared spec notes, the design note) or at a path outside the clone.
 * Upstream specs are cited by name (RFC 6962, C2SP tlog-tiles). The one exception is the test
 * helper that locates the shared test vectors, which CI places next to the clone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { repoRoot, sourceFiles } from '../support/paths';

const OUTSIDE = [
  /\.\.\/shared\b/,
  /\bshared\/spec\b/,
  /\b(?:rekor-v1-api|c2sp-formats|sigstore-clients)\.md\b/,
  /\bDESIGN\.md\b/,
  /\/work\//,
];
const ALLOWED = new Set(['test/support/paths.ts', 'test/core/self-contained.test.ts']);

export function outsideReferences(text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (OUTSIDE.some((re) => re.test(line))) found.push(`${i + 1}: ${line.trim()}`);
  });
  return found;
}

test('no file of the repository points outside it', () => {
  const root = repoRoot();
  const files = ['src', 'test', 'scripts', 'docs', '.ci']
    .flatMap((d) => sourceFiles(join(root, d), /\.(ts|tsx|js|mjs|cjs|md|sh)$|^run$/))
    .concat([join(root, 'README.md')]);
  assert.ok(files.length > 200, `${files.length} files scanned`);
  const bad: string[] = [];
  for (const f of files) {
    const rel = relative(root, f);
    if (ALLOWED.has(rel)) continue;
    for (const hit of outsideReferences(readFileSync(f, 'utf8'))) bad.push(`${rel}:${hit}`);
  }
  assert.deepEqual(bad, []);
});

test('the check finds each kind of outside reference', () => {
  for (const line of [
    ' * (shared/spec/rekor-v1-api.md §4)',
    '// see ../shared/DESIGN.md',
    ' * from c2sp-formats.md §4',
    "const p = '/work/shared/vectors';",
  ]) {
    assert.equal(outsideReferences(line).length, 1, line);
  }
  assert.deepEqual(outsideReferences(' * C2SP tlog-tiles; RFC 6962 §2.1; docs/monitoring.md'), []);
});
