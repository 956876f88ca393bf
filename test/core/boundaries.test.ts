/**
 * Which code may depend on which (docs/architecture.md, "Roles" and "Layers"): the HTTP faces
 * and the monitor never reach the sequencer or the private key, a ROLE=api process does not even
 * load that code, queue/ and sequencer/ depend one way, storage does not import its users.
 *
 * Imports are read with the TypeScript pre-processor (static imports, re-exports, require() and
 * import() with a literal), so comments and strings mentioning a path do not count. To add a
 * rule, append to FOLDER_RULES or write a test over `graph`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import ts from 'typescript';

import { repoRoot, sourceFiles } from '../support/paths';

const root = repoRoot();
const src = join(root, 'src');

interface ImportEdge {
  /** Repository-relative path of the imported file, without extension. */
  readonly target: string;
  /** `import type` / `export type`: erased at compile time, loads nothing. */
  readonly typeOnly: boolean;
}

function resolveLocal(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')])
    if (existsSync(candidate))
      return relative(root, candidate)
        .replace(/\.ts$/, '')
        .replace(/\/index$/, '');
  return relative(root, base);
}

/** Type-only import/export declarations, by module specifier. */
function typeOnlySpecifiers(file: string, text: string): Set<string> {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false);
  const out = new Set<string>();
  const valueUse = new Set<string>();
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const spec = st.moduleSpecifier.text;
      const clause = st.importClause;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      (allTypes ? out : valueUse).add(spec);
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
      (st.isTypeOnly ? out : valueUse).add(st.moduleSpecifier.text);
    }
  }
  for (const v of valueUse) out.delete(v);
  return out;
}

/** Every file under src/ (repository-relative, no extension) with the local files it imports. */
function importGraph(): Map<string, ImportEdge[]> {
  const graph = new Map<string, ImportEdge[]>();
  for (const file of sourceFiles(src)) {
    const text = readFileSync(file, 'utf8');
    const typeOnly = typeOnlySpecifiers(file, text);
    // `typeof import('x')` names a type and loads nothing; preProcessFile reports it like import().
    const edges: ImportEdge[] = [];
    for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
      const target = resolveLocal(file, ref.fileName);
      if (target === undefined) continue;
      const inTypePosition = /\btypeof\s+import\s*\(\s*['"]$/.test(
        text.slice(Math.max(0, ref.pos - 40), ref.pos),
      );
      edges.push({ target, typeOnly: typeOnly.has(ref.fileName) || inTypePosition });
    }
    graph.set(relative(root, file).replace(/\.ts$/, ''), edges);
  }
  return graph;
}

const graph = importGraph();

/** `src/modules/<name>` of a path, or undefined outside modules. */
function moduleFolder(path: string): string | undefined {
  return /^src\/modules\/([^/]+)\//.exec(path)?.[1];
}

/** Edges from files in folder `from` to files in folder `to` (module folder names). */
function edgesBetween(from: string, to: string, opts: { runtimeOnly?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const [file, edges] of graph) {
    if (moduleFolder(file) !== from) continue;
    for (const e of edges)
      if (moduleFolder(`${e.target}/`) === to || moduleFolder(e.target) === to)
        if (!opts.runtimeOnly || !e.typeOnly) out.push(`${file} -> ${e.target}`);
  }
  return out;
}

const FOLDER_RULES: ReadonlyArray<{
  readonly from: readonly string[];
  readonly never: readonly string[];
  readonly why: string;
}> = [
  {
    from: ['api', 'entries', 'http', 'tiles', 'monitor', 'identity', 'queue', 'write-path'],
    never: ['sequencer', 'signer'],
    why: 'the HTTP faces, the monitor and the write-path contract hold no sequencer code and no private key',
  },
];

describe('module boundaries', () => {
  it('the import reader sees imports, including lazy require() and type-only ones', () => {
    // Guards the rules below against passing because nothing was read.
    assert.ok(edgesBetween('sequencer', 'queue').length > 0, 'sequencer/ imports queue/');
    assert.ok(edgesBetween('storage', 'log').length > 0, 'storage/ imports log.types (type-only)');
    assert.equal(edgesBetween('storage', 'log', { runtimeOnly: true }).length, 0);
    const roles = graph.get('src/roles')!.map((e) => e.target);
    assert.ok(roles.includes('src/modules/sequencer/sequencer.module'), 'lazy require() in the role table');
  });

  for (const rule of FOLDER_RULES) {
    for (const from of rule.from) {
      it(`${from}/ imports nothing from ${rule.never.join('/, ')}/ (${rule.why})`, () => {
        const bad = rule.never.flatMap((to) => edgesBetween(from, to));
        assert.deepEqual(bad, []);
      });
    }
  }

  it('sequencer/ and queue/ do not import each other both ways', () => {
    const there = edgesBetween('sequencer', 'queue');
    const back = edgesBetween('queue', 'sequencer');
    assert.ok(there.length === 0 || back.length === 0, `both ways:\n${[...there, ...back].join('\n')}`);
  });

  it('storage/ loads no module that uses storage (each module registers its own migrations)', () => {
    const users = new Set<string>();
    for (const [file, edges] of graph) {
      const f = moduleFolder(file);
      if (f !== undefined && f !== 'storage' && edges.some((e) => moduleFolder(e.target) === 'storage'))
        users.add(f);
    }
    assert.ok(users.has('monitor') && users.has('sequencer'), 'the users of storage were found');
    // Type-only imports (row shapes from log.types) load nothing; runtime imports would.
    const bad = [...users].flatMap((u) => edgesBetween('storage', u, { runtimeOnly: true }));
    assert.deepEqual(bad, []);
  });
});

/**
 * Builds ROLE=<role> the way `vellum serve` does, in Nest preview mode (every module of the role
 * scanned, so every file it needs required, no provider started: no database, queue or key),
 * in a fresh process, and lists the files of src/modules/<folder>/ it loaded.
 */
function loadedByRole(role: string, folders: readonly string[]): string[] {
  const dist = join(root, 'dist', 'src');
  const script = `
    const { loadConfig } = require(${JSON.stringify(join(dist, 'modules/config/config'))});
    const { createApp } = require(${JSON.stringify(join(dist, 'main'))});
    const config = loadConfig({
      ROLE: ${JSON.stringify(role)},
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/never-opened',
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_HMAC_KEY: '${'q'.repeat(32)}',
      LOG_LEVEL: 'error',
    }, require('node:os').tmpdir());
    createApp(config, { preview: true, swaggerUi: false }).then(async (app) => {
      const loaded = Object.keys(require.cache).filter((f) => f.startsWith(${JSON.stringify(dist)}));
      process.stdout.write(JSON.stringify(loaded));
      await app.close().catch(() => undefined);
      process.exit(0);
    }, (e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const loaded = JSON.parse(r.stdout) as string[];
  return loaded
    .map((f) => relative(dist, f))
    .filter((f) => folders.some((folder) => f.startsWith(`modules/${folder}/`)));
}

describe('what each role loads', () => {
  it('ROLE=api requires no file of sequencer/ or signer/', () => {
    assert.deepEqual(loadedByRole('api', ['sequencer', 'signer']), []);
  });

  it('ROLE=sequencer does load them (the check above can fail), and not the entry routes', () => {
    const loaded = loadedByRole('sequencer', ['sequencer', 'signer', 'entries', 'api']);
    assert.ok(loaded.some((f) => f.startsWith('modules/sequencer/')));
    assert.ok(loaded.some((f) => f.startsWith('modules/signer/')));
    // OpsController names VerifyPool (optional) for the /metrics gauge; the routes stay out.
    for (const routes of ['modules/entries/entries.controller.js', 'modules/api/log.controller.js'])
      assert.ok(!loaded.includes(routes), routes);
  });
});
