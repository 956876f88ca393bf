/**
 * One parser for attacker input: only src/core/asn1 and src/core/x509 read DER. Everywhere else
 * in src, a file may not import the DER reader, use OpenSSL's certificate parser
 * (X509Certificate) or another ASN.1 library, define DER-reading helpers of its own, or compare
 * bytes against SEQUENCE/SET tags. Source is read with the TypeScript scanner, so comments and
 * string contents never count. The scanner is itself tested on offending snippets below.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

import { repoRoot, sourceFiles } from '../support/paths';

// core/tsp maps RFC 3161 / CMS structures with @peculiar/asn1-* after core/asn1 has checked the DER.
const PARSER_DIRS = ['src/core/asn1', 'src/core/x509', 'src/core/tsp'];
/** Names of DER-reading helpers: defining or calling one outside the parser is a second parser. */
const DER_HELPERS = new Set([
  'readTlv',
  'readWhole',
  'checkDerTree',
  'readOid',
  'oidToString',
  'decodeOid',
  'DerReader',
  'DerError',
  'X509Certificate',
]);
const ASN1_LIBRARIES = /^(asn1js|@peculiar\/|node-forge|pkijs|@sigstore\/core)/;

function tokens(source: string): Array<{ kind: ts.SyntaxKind; text: string }> {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, source);
  const out: Array<{ kind: ts.SyntaxKind; text: string }> = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    out.push({ kind, text: scanner.getTokenText() });
  }
  return out;
}

/** Everything in `source` (at `file`, relative to the repository) that reads DER outside the parser. */
export function derViolations(source: string, file: string): string[] {
  const findings: string[] = [];
  for (const imp of ts.preProcessFile(source, true, true).importedFiles) {
    const spec = imp.fileName;
    if (ASN1_LIBRARIES.test(spec)) findings.push(`imports ASN.1 library ${spec}`);
    if (spec.startsWith('.')) {
      const target = relative(repoRoot(), resolve(repoRoot(), dirname(file), spec))
        .split(sep)
        .join('/');
      if (target === 'src/core/asn1' || target.startsWith('src/core/asn1/'))
        findings.push(`imports the DER reader (${spec})`);
    }
  }
  const toks = tokens(source);
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind === ts.SyntaxKind.Identifier && DER_HELPERS.has(t.text)) findings.push(`uses ${t.text}`);
    if (t.kind !== ts.SyntaxKind.NumericLiteral) continue;
    const prev = toks[i - 1]?.kind;
    const next = toks[i + 1]?.kind;
    const eq = (k: ts.SyntaxKind | undefined) =>
      k === ts.SyntaxKind.EqualsEqualsEqualsToken || k === ts.SyntaxKind.ExclamationEqualsEqualsToken;
    if (/^0x3[01]$/i.test(t.text) && (eq(prev) || eq(next)))
      findings.push(`compares a byte with tag ${t.text}`);
    if (/^0x1f$/i.test(t.text) && prev === ts.SyntaxKind.AmpersandToken)
      findings.push('masks a tag number (& 0x1f)');
  }
  return findings;
}

describe('DER boundary: only core/asn1 and core/x509 parse DER', () => {
  it('no file elsewhere in src imports the DER reader, an ASN.1 library or X509Certificate, or reads tags', () => {
    const root = repoRoot();
    const files = sourceFiles(join(root, 'src'))
      .map((f) => relative(root, f).split(sep).join('/'))
      .filter((f) => !PARSER_DIRS.some((d) => f.startsWith(`${d}/`)));
    assert.ok(files.length > 50, 'found the sources');
    const problems = files.flatMap((f) =>
      derViolations(readFileSync(join(root, f), 'utf8'), f).map((v) => `${f}: ${v}`),
    );
    assert.deepEqual(problems, []);
  });

  it('the parser itself is where DER is read', () => {
    const root = repoRoot();
    const inside = PARSER_DIRS.flatMap((d) => sourceFiles(join(root, d))).map((f) => relative(root, f));
    const found = inside.flatMap((f) => derViolations(readFileSync(join(root, f), 'utf8'), f));
    assert.ok(
      found.some((v) => v.startsWith('uses readTlv')),
      'the scanner recognises the real reader',
    );
  });

  describe('the scanner', () => {
    it('flags each kind of offending source', () => {
      const cases: Array<[string, string, string]> = [
        [`import { readTlv } from '../asn1';`, 'src/core/monitor/x.ts', 'imports the DER reader'],
        [`import * as der from '../../core/asn1/der';`, 'src/modules/api/x.ts', 'imports the DER reader'],
        [`const d = require('../core/asn1');`, 'src/cli/x.ts', 'imports the DER reader'],
        [`import { X509Certificate } from 'node:crypto';`, 'src/modules/api/x.ts', 'uses X509Certificate'],
        [`import { fromBER } from 'asn1js';`, 'src/x.ts', 'ASN.1 library'],
        [`import { Certificate } from '@peculiar/asn1-x509';`, 'src/x.ts', 'ASN.1 library'],
        [`function oidToString(b: Buffer) { return ''; }`, 'src/core/entries/x.ts', 'uses oidToString'],
        [`class DerReader {}`, 'src/core/monitor/x.ts', 'uses DerReader'],
        [`if (bytes[0] === 0x30) parse(bytes);`, 'src/core/monitor/x.ts', 'compares a byte with tag 0x30'],
        [`const isSet = 0x31 !== b[i];`, 'src/x.ts', 'compares a byte with tag 0x31'],
        [`if ((tag & 0x1f) === 0x1f) throw e;`, 'src/x.ts', 'masks a tag number'],
      ];
      for (const [source, file, rule] of cases) {
        const found = derViolations(source, file);
        assert.ok(
          found.some((f) => f.includes(rule)),
          `expected ${JSON.stringify(source)} to be flagged for ${rule}, got ${JSON.stringify(found)}`,
        );
      }
    });

    it('passes clean code: the x509 API, comments, strings and look-alike bytes', () => {
      const clean = [
        `import { parseVerificationMaterial, looksLikeCertificate } from '../x509';`,
        `import { decodeBase64Strict } from '../encoding';`,
        `// never call readTlv or X509Certificate here; bytes[0] === 0x30 is DER`,
        `const s = 'readTlv X509Certificate';`,
        `const digit = b >= 0x30 && b <= 0x39;`,
        `const lowBits = x & 0x1e;`,
      ].join('\n');
      assert.deepEqual(derViolations(clean, 'src/core/monitor/x.ts'), []);
    });
  });
});
