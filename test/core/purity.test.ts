/**
 * src/core stays pure (docs/architecture.md): no framework, database, queue, filesystem or network
 * imports, no environment and no clock. Comments are stripped first (with the TypeScript scanner),
 * so a comment may say "never call Date.now()"; string literals are kept, so require('fs') and a
 * dynamic import('pg') are caught.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

import { repoRoot, sourceFiles } from '../support/paths';

/** Module roots the core must not import, compared after dropping a "node:" prefix. */
const FORBIDDEN_MODULES: ReadonlyArray<{ readonly name: string; readonly test: (root: string) => boolean }> =
  [
    { name: '@nestjs/*', test: (m) => m.startsWith('@nestjs/') },
    ...[
      'typeorm',
      'bullmq',
      'ioredis',
      'pg',
      'better-sqlite3',
      'fs',
      'net',
      'http',
      'https',
      'http2',
      'tls',
    ].map((name) => ({ name, test: (m: string) => m === name || m.startsWith(`${name}/`) })),
  ];

const FORBIDDEN_MENTIONS: ReadonlyArray<{ readonly name: string; readonly pattern: RegExp }> = [
  {
    name: 'process.env',
    pattern: /\bprocess\s*(\.|\?\.)\s*env\b|\bprocess\s*\[|\{[^}]*\benv\b[^}]*\}\s*=\s*process\b/,
  },
  { name: 'Date.now(', pattern: /\bDate\s*\.\s*now\s*\(/ },
  { name: 'new Date(', pattern: /\bnew\s+Date\b/ },
  { name: 'performance.now(', pattern: /\bperformance\s*\.\s*now\s*\(/ },
  { name: 'hrtime', pattern: /hrtime/ },
];

const IMPORT_PATTERNS: readonly RegExp[] = [
  /\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** Tokens after which a "/" divides; anywhere else it starts a regular expression literal. */
const DIVISION_CONTEXT = new Set<ts.SyntaxKind>([
  ts.SyntaxKind.Identifier,
  ts.SyntaxKind.NumericLiteral,
  ts.SyntaxKind.BigIntLiteral,
  ts.SyntaxKind.StringLiteral,
  ts.SyntaxKind.NoSubstitutionTemplateLiteral,
  ts.SyntaxKind.CloseParenToken,
  ts.SyntaxKind.CloseBracketToken,
  ts.SyntaxKind.ThisKeyword,
  ts.SyntaxKind.SuperKeyword,
]);

/**
 * The source text with every comment replaced by a space, strings and regexes untouched. Without a
 * parse, "/" is told apart from a regex literal by the previous token, the usual heuristic; it only
 * has to be good enough that "//" inside a regex is not taken for a comment.
 */
export function stripComments(source: string): string {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, source);
  let out = '';
  let previous = ts.SyntaxKind.Unknown;
  // Brace depths at which a template literal's `${` substitution was opened: its closing "}"
  // resumes the template text, which must not be scanned as code.
  const substitutions: number[] = [];
  let braces = 0;
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    if (
      (kind === ts.SyntaxKind.SlashToken || kind === ts.SyntaxKind.SlashEqualsToken) &&
      !DIVISION_CONTEXT.has(previous)
    ) {
      kind = scanner.reScanSlashToken();
    }
    if (kind === ts.SyntaxKind.OpenBraceToken) braces++;
    if (kind === ts.SyntaxKind.CloseBraceToken) {
      if (substitutions.length > 0 && substitutions[substitutions.length - 1] === braces) {
        substitutions.pop();
        kind = scanner.reScanTemplateToken(false);
      } else {
        braces--;
      }
    }
    if (kind === ts.SyntaxKind.TemplateHead || kind === ts.SyntaxKind.TemplateMiddle)
      substitutions.push(braces);
    if (kind === ts.SyntaxKind.SingleLineCommentTrivia || kind === ts.SyntaxKind.MultiLineCommentTrivia) {
      out += ' ';
      continue;
    }
    out += scanner.getTokenText();
    if (kind !== ts.SyntaxKind.WhitespaceTrivia && kind !== ts.SyntaxKind.NewLineTrivia) previous = kind;
  }
  return out;
}

/** Everything in `source` that breaks the purity rules, as human-readable findings. */
export function purityViolations(source: string): string[] {
  const code = stripComments(source);
  const findings: string[] = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of code.matchAll(pattern)) {
      const specifier = match[1].replace(/^node:/, '');
      const rule = FORBIDDEN_MODULES.find((r) => r.test(specifier));
      if (rule !== undefined) findings.push(`imports ${match[1]} (${rule.name})`);
    }
  }
  for (const { name, pattern } of FORBIDDEN_MENTIONS) {
    if (pattern.test(code)) findings.push(`mentions ${name}`);
  }
  return findings;
}

describe('src/core purity', () => {
  it('no file under src/core imports I/O or framework modules, or reads the environment or clock', () => {
    const root = repoRoot();
    const files = sourceFiles(join(root, 'src', 'core'));
    assert.ok(files.length >= 5, 'found the core sources');
    const problems = files.flatMap((file) =>
      purityViolations(readFileSync(file, 'utf8')).map((v) => `${relative(root, file)}: ${v}`),
    );
    assert.deepEqual(problems, []);
  });

  describe('the scanner itself', () => {
    it('flags each kind of offending source', () => {
      const cases: Array<[string, string]> = [
        [`import { Injectable } from '@nestjs/common';`, '@nestjs/*'],
        [`import { DataSource } from "typeorm";`, 'typeorm'],
        [`import { Queue } from 'bullmq';`, 'bullmq'],
        [`import Redis from 'ioredis';`, 'ioredis'],
        [`import { Pool } from 'pg';`, 'pg'],
        [`import Database from 'better-sqlite3';`, 'better-sqlite3'],
        [`import { readFileSync } from 'node:fs';`, 'fs'],
        [`import * as fs from 'fs/promises';`, 'fs'],
        [`const fs = require('fs');`, 'fs'],
        [`import net = require('node:net');`, 'net'],
        [`import 'http';`, 'http'],
        [`export { get } from 'node:https';`, 'https'],
        [`const pg = await import('pg');`, 'pg'],
        [`const url = process.env.DATABASE_URL;`, 'process.env'],
        [`const x = process['env'];`, 'process.env'],
        [`const { env } = process;`, 'process.env'],
        [`const re = /https?:\\/\\//; const d = Date.now();`, 'Date.now('],
        ['const u = `${{ a: 1 }.a}//`; const t = Date.now();', 'Date.now('],
        [`const t = Date.now();`, 'Date.now('],
        [`const d = new Date();`, 'new Date('],
        [`const d = new Date;`, 'new Date('],
        [`const t = performance.now();`, 'performance.now('],
        [`const t = process.hrtime.bigint();`, 'hrtime'],
      ];
      for (const [source, rule] of cases) {
        const found = purityViolations(source);
        assert.ok(
          found.some((f) => f.includes(rule)),
          `expected ${JSON.stringify(source)} to be flagged for ${rule}, got ${JSON.stringify(found)}`,
        );
      }
    });

    it('passes clean code, including forbidden words inside comments and look-alike names', () => {
      const clean = [
        `import { createHash } from 'node:crypto';`,
        `import { VellumError } from '../errors';`,
        `// never call Date.now() or read process.env here`,
        `/* new Date() and require('fs') are for the edges */`,
        `import { x } from 'pg-like-but-not-pg';`,
        `import { y } from './typeorm-free';`,
        `const updateDate = (d: number) => d; const fsync = 1;`,
        `const half = (a: number, b: number) => a / 2 / b; // Date.now()`,
        `const re = /[/*]/; const rest = 1; /* new Date() */`,
      ].join('\n');
      assert.deepEqual(purityViolations(clean), []);
    });
  });
});
