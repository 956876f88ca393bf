import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The repository root: the nearest directory above cwd holding Vellum's package.json. */
export function repoRoot(): string {
  let dir = process.cwd();
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'vellum') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('run the tests from inside the Vellum repository');
    dir = up;
  }
}

/** ../shared/vectors beside the repository (CI clones main with shared/ next to it). */
export function vectorsDir(): string {
  return resolve(repoRoot(), '..', 'shared', 'vectors');
}

export function readVector<T = unknown>(relPath: string): T {
  return JSON.parse(readFileSync(join(vectorsDir(), relPath), 'utf8')) as T;
}

/** Every source file below `dir` (TypeScript and JavaScript), depth first, in name order. */
export function sourceFiles(dir: string, names: RegExp = /\.(ts|tsx|js|mjs|cjs)$/): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p, names));
    else if (names.test(name)) out.push(p);
  }
  return out;
}
