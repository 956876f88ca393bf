/**
 * Pattern matching for monitor rules (docs/monitoring.md, "Operators").
 *
 * Rule regexes use RE2 syntax and are always FULL matches, as if written `^(?:expr)$`. They run
 * on re2js (a pure-JavaScript port of RE2), never on JavaScript's backtracking RegExp, where even
 * RE2-valid patterns such as `(a+)+b` take exponential time on attacker-chosen identities: RE2
 * matches in time linear in the input. Patterns come from operators (rule files and the admin
 * API), so their size is bounded too: the source length, and the compiled program size, which
 * is what a match's cost grows with.
 */
import { RE2JS, RE2JSException } from 're2js';

import { VellumError } from '../errors';

/** `maxRepeat` is RE2's own bound on counted repetition `{n,m}`, enforced by re2js. */
export const REGEX_LIMITS = { maxPatternLength: 2048, maxRepeat: 1000, maxProgram: 10000 } as const;

/** A compiled full-match pattern. `test` runs in time linear in the input. */
export interface Pattern {
  readonly source: string;
  readonly syntax: 'regex' | 'glob';
  test(input: string): boolean;
}

function invalid(kind: string, src: string, offset: number, reason: string): VellumError {
  return new VellumError(
    'INVALID_ARGUMENT',
    `invalid ${kind} ${JSON.stringify(src)} at offset ${offset}: ${reason}`,
    {
      offset,
      reason,
    },
  );
}

/**
 * Finds constructs of other dialects that RE2 deliberately lacks, so the operator learns why the
 * pattern is refused instead of reading re2js's generic "invalid escape sequence". Character
 * classes are skipped: inside `[...]`, `(?=` is three literal characters.
 */
function unsupportedConstruct(expr: string): { offset: number; reason: string } | undefined {
  const why = 'RE2 matches in linear time and has no backtracking';
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '\\') {
      const n = expr[i + 1] ?? '';
      // `\1`…`\7` followed by an octal digit is an octal escape (`\101` is "A"), as in RE2.
      const octal = /[1-7]/.test(n) && /[0-7]/.test(expr[i + 2] ?? '');
      if ((/[1-9]/.test(n) && !octal) || (n === 'k' && /[<{']/.test(expr[i + 2] ?? '')) || n === 'g') {
        return { offset: i, reason: `backreferences (\\${n}…) are not supported: ${why}` };
      }
      if (n === 'Q') {
        // \Q…\E quotes everything up to \E (or the end) literally.
        const end = expr.indexOf('\\E', i + 2);
        i = end < 0 ? expr.length : end + 1;
        continue;
      }
      i++;
    } else if (c === '[') {
      i = classEnd(expr, i);
    } else if (c === '(' && expr[i + 1] === '?') {
      const rest = expr.slice(i + 2, i + 4);
      if (rest.startsWith('=') || rest.startsWith('!')) {
        return { offset: i, reason: `lookahead (?${rest[0]} is not supported: ${why}` };
      }
      if (rest === '<=' || rest === '<!') {
        return { offset: i, reason: `lookbehind (?${rest} is not supported: ${why}` };
      }
    }
  }
  return undefined;
}

/** Index of the `]` closing the class opened at `open` (or the last index if unclosed). */
function classEnd(expr: string, open: number): number {
  let i = open + 1;
  if (expr[i] === '^') i++;
  if (expr[i] === ']') i++; // a leading ']' is literal in RE2
  for (; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '\\') i++;
    else if (c === '[' && expr[i + 1] === ':') {
      const close = expr.indexOf(':]', i + 2);
      if (close >= 0) i = close + 1;
    } else if (c === ']') return i;
  }
  return expr.length - 1;
}

function compileRe2(kind: 'regex' | 'glob', source: string, re2Source: string): RE2JS {
  let re: RE2JS;
  try {
    re = RE2JS.compile(re2Source);
  } catch (e) {
    if (!(e instanceof RE2JSException)) throw e;
    // re2js names the offending fragment (`input`) rather than its offset; find it in the source.
    const fragment = (e as { input?: unknown }).input;
    const at = typeof fragment === 'string' ? source.indexOf(fragment) : -1;
    const reason = e.message.replace(/^error parsing regexp: /, '');
    throw invalid(kind, source, Math.max(at, 0), reason);
  }
  if (re.programSize() > REGEX_LIMITS.maxProgram) {
    throw invalid(
      kind,
      source,
      0,
      `pattern too large (program size ${re.programSize()} > ${REGEX_LIMITS.maxProgram})`,
    );
  }
  return re;
}

/**
 * Compiles an RE2-syntax regex for FULL matching (`^(?:expr)$` semantics). Throws VellumError
 * INVALID_ARGUMENT with the offset and reason for anything RE2 does not accept.
 */
export function compileRegex(expr: string): Pattern {
  if (typeof expr !== 'string') throw new VellumError('INVALID_ARGUMENT', 'regex must be a string');
  if (expr.length > REGEX_LIMITS.maxPatternLength) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `regex longer than ${REGEX_LIMITS.maxPatternLength} characters`,
    );
  }
  const bad = unsupportedConstruct(expr);
  if (bad) throw invalid('regex', expr, bad.offset, bad.reason);
  // Compiled as written (not wrapped), so an unbalanced `a)|(b` is rejected rather than closed by
  // the wrapper; `matches` anchors at both ends of the input.
  const re = compileRe2('regex', expr, expr);
  return { source: expr, syntax: 'regex', test: (input) => re.matches(input) };
}

/**
 * Compiles a glob for FULL matching: `*` any run of characters (including `/`, newline and none),
 * `?` exactly one character, `\` escapes the next character; everything else is literal.
 */
export function compileGlob(glob: string): Pattern {
  if (typeof glob !== 'string') throw new VellumError('INVALID_ARGUMENT', 'glob must be a string');
  if (glob.length > REGEX_LIMITS.maxPatternLength) {
    throw new VellumError('INVALID_ARGUMENT', `glob longer than ${REGEX_LIMITS.maxPatternLength} characters`);
  }
  let re2 = '';
  const chars = [...glob];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      if (!re2.endsWith('(?s:.*)')) re2 += '(?s:.*)';
    } else if (c === '?') {
      re2 += '(?s:.)';
    } else if (c === '\\') {
      if (i + 1 >= chars.length) throw invalid('glob', glob, glob.length - 1, 'trailing backslash');
      re2 += RE2JS.quote(chars[++i]!);
    } else {
      re2 += RE2JS.quote(c);
    }
  }
  const re = compileRe2('glob', glob, re2);
  return { source: glob, syntax: 'glob', test: (input) => re.matches(input) };
}

/**
 * Lint for a (valid) regex: offsets of unescaped `.` between host-like characters (`github.com`),
 * which match any character (`githubXcom`).
 */
export function unescapedHostDots(expr: string): number[] {
  const out: number[] = [];
  let inClass = false;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      continue;
    }
    if (c === '.' && /[A-Za-z0-9-]/.test(expr[i - 1] ?? '') && /[A-Za-z]/.test(expr[i + 1] ?? '')) {
      // `x.*` / `x.+` is a wildcard, not a host dot.
      out.push(i);
    }
  }
  return out;
}
