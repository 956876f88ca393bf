/**
 * `cosign verify…` command lines in shell scripts: the identity each accepts, from
 * `--certificate-identity[-regexp]`, `--certificate-oidc-issuer[-regexp]`, the
 * `--certificate-github-workflow-*` flags, or `--key FILE` (a fingerprint).
 *
 * Semantics carried over (cosign `cmd/cosign/cli/options/certificate.go` and `pkg/cosign`'s
 * identity check): identity and issuer are exact (identity against every SAN); the `-regexp`
 * forms are Go `regexp.MatchString`, unanchored, and take precedence over the exact forms; the
 * GitHub workflow flags compare the deprecated Fulcio extensions `.1.2`–`.1.6` exactly. Lines are
 * read as the shell would split them (quotes, backslash continuations); anything the script
 * computes at run time (`$VAR`, `$(…)`) is refused rather than guessed.
 */
import { Ctx, emit, emitPem, refuse } from './context';
import { unanchoredToFullMatch, SourcePatternError } from './source-regex';
import { ImportFile, ImportResult, ImportedItem } from './types';

const VERIFY_COMMANDS = ['verify', 'verify-blob', 'verify-attestation', 'verify-blob-attestation'];
const GITHUB_FLAGS: Record<string, string> = {
  '--certificate-github-workflow-trigger': 'github-workflow-trigger',
  '--certificate-github-workflow-sha': 'github-workflow-sha',
  '--certificate-github-workflow-name': 'github-workflow-name',
  '--certificate-github-workflow-repository': 'github-workflow-repository',
  '--certificate-github-workflow-ref': 'github-workflow-ref',
};
const VALUE_FLAGS = [
  '--certificate-identity',
  '--certificate-identity-regexp',
  '--certificate-oidc-issuer',
  '--certificate-oidc-issuer-regexp',
  '--key',
  ...Object.keys(GITHUB_FLAGS),
];

/** A word of a shell line, and whether some part of it was expanded by the shell at run time. */
interface Word {
  text: string;
  dynamic: boolean;
}

/** Splits one logical shell line into words (POSIX quoting; stops at an unquoted `#`, `;`, `|`, `&`). */
export function shellWords(line: string): Word[] {
  const words: Word[] = [];
  let cur: Word | undefined;
  const add = (c: string): void => {
    cur ??= { text: '', dynamic: false };
    cur.text += c;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      const stop = end < 0 ? line.length : end;
      cur ??= { text: '', dynamic: false };
      cur.text += line.slice(i + 1, stop);
      i = stop;
    } else if (c === '"') {
      cur ??= { text: '', dynamic: false };
      for (i++; i < line.length && line[i] !== '"'; i++) {
        const d = line[i]!;
        if (d === '\\' && /["\\$`]/.test(line[i + 1] ?? '')) add(line[++i]!);
        else {
          if (d === '$' || d === '`') cur.dynamic = true;
          add(d);
        }
      }
    } else if (c === '\\') {
      if (i + 1 < line.length) add(line[++i]!);
    } else if (/\s/.test(c)) {
      if (cur) words.push(cur);
      cur = undefined;
    } else if (!cur && c === '#') {
      break;
    } else if (c === ';' || c === '|' || c === '&') {
      break;
    } else {
      if (c === '$' || c === '`') {
        cur ??= { text: '', dynamic: false };
        cur.dynamic = true;
      }
      add(c);
    }
  }
  if (cur) words.push(cur);
  return words;
}

/** Logical lines: backslash-newline continuations joined, with the first physical line number. */
function logicalLines(text: string): Array<{ line: string; number: number }> {
  const out: Array<{ line: string; number: number }> = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length)
      line = line.slice(0, -1) + ' ' + lines[++i]!;
    out.push({ line, number: start + 1 });
  }
  return out;
}

/**
 * `keys` maps a `--key` argument (as written in the script) to the PEM text of that file, read by
 * the caller; a key not in the map (a KMS URI, a missing file) is refused.
 */
export function importCosignScript(
  file: ImportFile,
  out: ImportResult,
  keys: ReadonlyMap<string, string> = new Map(),
): void {
  for (const { line, number } of logicalLines(file.text)) {
    const words = shellWords(line);
    const at = words.findIndex(
      (w, i) => /(^|\/)cosign$/.test(w.text) && VERIFY_COMMANDS.includes(words[i + 1]?.text ?? ''),
    );
    if (at < 0) continue;
    const path = `line ${number}`;
    const ctx: Ctx = { file, out, policy: undefined, rule: `cosign ${words[at + 1]!.text} (${path})` };
    const flags = new Map<string, Word>();
    let bad = false;
    for (let i = at + 2; i < words.length; i++) {
      const w = words[i]!;
      const eq = w.text.indexOf('=');
      const name = eq > 0 ? w.text.slice(0, eq) : w.text;
      if (!VALUE_FLAGS.includes(name)) continue;
      const value: Word | undefined =
        eq > 0 ? { text: w.text.slice(eq + 1), dynamic: w.dynamic } : words[++i];
      if (!value) continue;
      if (value.dynamic) {
        refuse(ctx, path, `${name} $…`, 'the value is computed by the shell at run time');
        bad = true;
        break;
      }
      flags.set(name, value);
    }
    if (bad) continue;
    const key = flags.get('--key');
    if (key) {
      const pem = keys.get(key.text);
      if (pem === undefined)
        refuse(
          ctx,
          path,
          `--key ${key.text}`,
          'the key file could not be read (or is a KMS reference), so its fingerprint is unknown',
        );
      else emitPem(ctx, pem, path);
      continue;
    }
    const item: ImportedItem = {};
    try {
      for (const [flag, field] of [
        ['--certificate-identity', 'subject'],
        ['--certificate-oidc-issuer', 'issuer'],
      ] as const) {
        const re = flags.get(`${flag}-regexp`);
        const exact = flags.get(flag);
        if (re) item[`${field}RegExp`] = unanchoredToFullMatch(re.text);
        else if (exact) item[field] = exact.text;
      }
    } catch (e) {
      if (!(e instanceof SourcePatternError)) throw e;
      refuse(ctx, path, 'regexp flag', e.message);
      continue;
    }
    const ext: Record<string, string> = {};
    for (const [flag, name] of Object.entries(GITHUB_FLAGS)) {
      const v = flags.get(flag);
      if (v) ext[name] = v.text;
    }
    if (Object.keys(ext).length > 0) item.extensions = ext;
    if (item.subject === undefined && item.subjectRegExp === undefined) {
      refuse(
        ctx,
        path,
        'cosign verify without --certificate-identity',
        'cosign itself refuses keyless verification without an identity',
      );
      continue;
    }
    emit(ctx, path, item);
  }
}

/** The `--key` arguments of a script's cosign verify lines, for the caller to read. */
export function cosignKeyRefs(text: string): string[] {
  const refs: string[] = [];
  for (const { line } of logicalLines(text)) {
    const words = shellWords(line);
    const at = words.findIndex((w) => /(^|\/)cosign$/.test(w.text));
    if (at < 0 || !VERIFY_COMMANDS.includes(words[at + 1]?.text ?? '')) continue;
    for (let i = at + 2; i < words.length; i++) {
      const w = words[i]!.text;
      if (w.startsWith('--key=')) refs.push(w.slice(6));
      else if (w === '--key' && words[i + 1]) refs.push(words[++i]!.text);
    }
  }
  return refs;
}
