/**
 * Linear-time pattern matching for monitor rules (monitoring.md §4.2).
 *
 * Rule regexes use RE2 syntax and are always FULL matches (as if compiled `^(?:expr)$`). They are
 * not run by JavaScript's backtracking RegExp engine, where even RE2-valid patterns such as
 * `(a+)+` can take exponential time; instead this module parses the RE2 subset below and runs it
 * on a Thompson NFA (Pike VM without captures): O(program size × input length), always.
 *
 * Supported: literals, `.` (any character but `\n`), classes `[...]`/`[^...]` with ranges, `\d \D
 * \w \W \s \S` (ASCII meanings, as in RE2), `\b \B`, `^ $` (text start/end), groups `(...)`,
 * `(?:...)`, `(?<name>...)`, alternation, quantifiers `* + ? {n} {n,} {n,m}` (counts ≤ 1000, lazy
 * `?` accepted and irrelevant for a yes/no full match), escapes `\n \r \t \f \v \xHH` and `\` before
 * any ASCII punctuation.
 * Rejected with a reason: backreferences (`\1`, `\k<n>`), lookahead/lookbehind, inline flags,
 * possessive or repeated quantifiers, Unicode classes, `\A \z \Q…\E \C`, octal escapes, POSIX and
 * nested classes, unescaped `{ } ]` where they would be ambiguous between RE2 and other dialects.
 */
import { VellumError } from '../errors';

export const REGEX_LIMITS = { maxPatternLength: 2048, maxRepeat: 1000, maxProgram: 10000 } as const;

type Range = readonly [number, number];
interface CharSet {
  readonly ranges: readonly Range[]; // sorted, merged, non-negated
}
type AssertKind = 'bol' | 'eol' | 'wb' | 'nwb';
type Node =
  | { readonly t: 'char'; readonly set: CharSet }
  | { readonly t: 'cat'; readonly items: readonly Node[] }
  | { readonly t: 'alt'; readonly items: readonly Node[] }
  | { readonly t: 'rep'; readonly node: Node; readonly min: number; readonly max: number }
  | { readonly t: 'assert'; readonly kind: AssertKind }
  | { readonly t: 'empty' };

const MAX_CP = 0x10ffff;

function normalize(ranges: Range[]): CharSet {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return { ranges: out };
}

function negate(set: CharSet): CharSet {
  const out: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of set.ranges) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return { ranges: out };
}

function inSet(set: CharSet, cp: number): boolean {
  const r = set.ranges;
  let lo = 0;
  let hi = r.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = r[mid]!;
    if (cp < a) hi = mid - 1;
    else if (cp > b) lo = mid + 1;
    else return true;
  }
  return false;
}

const cp = (c: string): number => c.codePointAt(0)!;
const DIGIT: Range[] = [[cp('0'), cp('9')]];
const WORD: Range[] = [
  [cp('0'), cp('9')],
  [cp('A'), cp('Z')],
  [cp('_'), cp('_')],
  [cp('a'), cp('z')],
];
const SPACE: Range[] = [
  [9, 10],
  [12, 13],
  [32, 32],
];
const WORD_SET = normalize(WORD);
const ANY_BUT_NL = negate(normalize([[10, 10]]));
const ANY = normalize([[0, MAX_CP]]);

class PatternError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const ASCII_PUNCT = /^[!-/:-@[-`{-~]$/;

class Parser {
  private i = 0;
  constructor(private readonly src: string) {}

  parse(): Node {
    const n = this.alt();
    if (this.i < this.src.length) {
      // Only an unmatched ')' stops alt() early.
      throw new PatternError("unmatched ')'", this.i);
    }
    return n;
  }

  private peek(): string | undefined {
    if (this.i >= this.src.length) return undefined;
    return String.fromCodePoint(this.src.codePointAt(this.i)!);
  }

  private next(): string {
    const c = this.peek();
    if (c === undefined) throw new PatternError('unexpected end of pattern', this.i);
    this.i += c.length;
    return c;
  }

  private alt(): Node {
    const items = [this.cat()];
    while (this.peek() === '|') {
      this.i++;
      items.push(this.cat());
    }
    return items.length === 1 ? items[0]! : { t: 'alt', items };
  }

  private cat(): Node {
    const items: Node[] = [];
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === '|' || c === ')') break;
      items.push(this.repeat());
    }
    if (items.length === 0) return { t: 'empty' };
    return items.length === 1 ? items[0]! : { t: 'cat', items };
  }

  private repeat(): Node {
    const start = this.i;
    const atom = this.atom();
    const q = this.quantifier();
    if (!q) return atom;
    if (atom.t === 'assert' || atom.t === 'empty') {
      throw new PatternError('quantifier follows nothing repeatable', start);
    }
    if (this.peek() === '?') this.i++; // lazy: irrelevant for a yes/no full match
    const after = this.peek();
    if (after === '*' || after === '+' || after === '?' || (after === '{' && this.looksLikeCount())) {
      throw new PatternError(
        'repeated or possessive quantifier (e.g. "a**", "a*+") is not RE2 syntax; use a group',
        this.i,
      );
    }
    return { t: 'rep', node: atom, min: q.min, max: q.max };
  }

  private looksLikeCount(): boolean {
    return /^\{[0-9]+(?:,[0-9]*)?\}/.test(this.src.slice(this.i));
  }

  private quantifier(): { min: number; max: number } | undefined {
    const c = this.peek();
    if (c === '*') return (this.i++, { min: 0, max: Infinity });
    if (c === '+') return (this.i++, { min: 1, max: Infinity });
    if (c === '?') return (this.i++, { min: 0, max: 1 });
    if (c !== '{') return undefined;
    const m = /^\{([0-9]+)(?:(,)([0-9]*))?\}/.exec(this.src.slice(this.i));
    if (!m) throw new PatternError("a literal '{' must be escaped as '\\{'", this.i);
    const at = this.i;
    this.i += m[0].length;
    if (m[1]!.length > 4 || (m[3] !== undefined && m[3].length > 4)) {
      throw new PatternError(`repetition count above ${REGEX_LIMITS.maxRepeat}`, at);
    }
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    if (min > REGEX_LIMITS.maxRepeat || (max !== Infinity && max > REGEX_LIMITS.maxRepeat)) {
      throw new PatternError(`repetition count above ${REGEX_LIMITS.maxRepeat}`, at);
    }
    if (max < min) throw new PatternError(`invalid repetition {${min},${max}}: max below min`, at);
    return { min, max };
  }

  private atom(): Node {
    const at = this.i;
    const c = this.next();
    switch (c) {
      case '(':
        return this.group(at);
      case ')':
        throw new PatternError("unmatched ')'", at);
      case '[':
        return { t: 'char', set: this.cls(at) };
      case '.':
        return { t: 'char', set: ANY_BUT_NL };
      case '^':
        return { t: 'assert', kind: 'bol' };
      case '$':
        return { t: 'assert', kind: 'eol' };
      case '\\':
        return this.escape(at, false) as Node;
      case '*':
      case '+':
      case '?':
        throw new PatternError(`quantifier '${c}' follows nothing repeatable`, at);
      case '{':
        throw new PatternError(
          this.src.slice(at).match(/^\{[0-9]+(?:,[0-9]*)?\}/)
            ? 'quantifier follows nothing repeatable'
            : "a literal '{' must be escaped as '\\{'",
          at,
        );
      case '}':
        throw new PatternError("a literal '}' must be escaped as '\\}'", at);
      case ']':
        throw new PatternError("a literal ']' must be escaped as '\\]'", at);
      default:
        return { t: 'char', set: normalize([[cp(c), cp(c)]]) };
    }
  }

  private group(at: number): Node {
    if (this.peek() === '?') {
      const rest = this.src.slice(this.i);
      if (rest.startsWith('?:')) {
        this.i += 2;
      } else if (rest.startsWith('?=') || rest.startsWith('?!')) {
        throw new PatternError('lookahead is not supported (RE2 syntax, linear-time matching)', at);
      } else if (rest.startsWith('?<=') || rest.startsWith('?<!')) {
        throw new PatternError('lookbehind is not supported (RE2 syntax, linear-time matching)', at);
      } else if (rest.startsWith('?<')) {
        const m = /^\?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
        if (!m) throw new PatternError('invalid group name', at);
        this.i += m[0].length;
      } else if (rest.startsWith('?P<')) {
        throw new PatternError("write named groups as '(?<name>...)'", at);
      } else if (rest.startsWith('?>')) {
        throw new PatternError('atomic groups are not supported (RE2 syntax)', at);
      } else {
        throw new PatternError('inline flags and other (?...) constructs are not supported', at);
      }
    }
    const inner = this.alt();
    if (this.peek() !== ')') throw new PatternError("missing ')'", at);
    this.i++;
    return inner;
  }

  /** Parses after '\'. In a class, returns a CharSet; outside, a Node. */
  private escape(at: number, inClass: boolean): Node | CharSet {
    const c = this.next();
    const set = (s: CharSet): Node | CharSet => (inClass ? s : { t: 'char', set: s });
    const lit = (n: number): Node | CharSet => set(normalize([[n, n]]));
    switch (c) {
      case 'd':
        return set(normalize(DIGIT));
      case 'D':
        return set(negate(normalize(DIGIT)));
      case 'w':
        return set(WORD_SET);
      case 'W':
        return set(negate(WORD_SET));
      case 's':
        return set(normalize(SPACE));
      case 'S':
        return set(negate(normalize(SPACE)));
      case 'n':
        return lit(10);
      case 'r':
        return lit(13);
      case 't':
        return lit(9);
      case 'f':
        return lit(12);
      case 'v':
        return lit(11);
      case 'b':
      case 'B':
        if (inClass) throw new PatternError(`'\\${c}' is not allowed in a class`, at);
        return { t: 'assert', kind: c === 'b' ? 'wb' : 'nwb' };
      case 'x': {
        const m = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.i));
        if (!m) throw new PatternError("'\\x' needs exactly two hex digits", at);
        this.i += 2;
        return lit(parseInt(m[0], 16));
      }
      case 'k':
        throw new PatternError('backreferences are not supported (RE2 syntax, linear-time matching)', at);
      case 'p':
      case 'P':
        throw new PatternError('Unicode classes (\\p, \\P) are not supported', at);
      case 'u':
        throw new PatternError("'\\u' escapes are not RE2 syntax; use '\\xHH' or the character itself", at);
      default:
        if (c >= '1' && c <= '9') {
          throw new PatternError('backreferences are not supported (RE2 syntax, linear-time matching)', at);
        }
        if (c === '0') throw new PatternError('octal escapes are not supported; use \\xHH', at);
        if (ASCII_PUNCT.test(c)) return lit(cp(c));
        throw new PatternError(`unsupported escape '\\${c}'`, at);
    }
  }

  private cls(at: number): CharSet {
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.i++;
    }
    if (this.peek() === ']') {
      throw new PatternError("empty class or leading ']' is ambiguous; escape ']' as '\\]'", this.i);
    }
    const ranges: Range[] = [];
    for (;;) {
      const here = this.i;
      const c = this.peek();
      if (c === undefined) throw new PatternError("missing ']'", at);
      if (c === ']') {
        this.i++;
        break;
      }
      if (c === '[') {
        throw new PatternError(
          "'[' inside a class (POSIX or nested classes) is not supported; escape it as '\\['",
          here,
        );
      }
      const lo = this.classAtom(here);
      if (this.peek() === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length) {
        this.i++;
        const hiAt = this.i;
        const hi = this.classAtom(hiAt);
        if (typeof lo !== 'number' || typeof hi !== 'number') {
          throw new PatternError('a class escape cannot be a range endpoint', hiAt);
        }
        if (hi < lo) throw new PatternError('invalid class range (end before start)', here);
        ranges.push([lo, hi]);
      } else if (typeof lo === 'number') {
        ranges.push([lo, lo]);
      } else {
        ranges.push(...lo.ranges);
      }
    }
    const s = normalize(ranges);
    return negated ? negate(s) : s;
  }

  private classAtom(at: number): number | CharSet {
    const c = this.next();
    if (c !== '\\') return cp(c);
    const e = this.escape(at, true) as CharSet;
    const r = e.ranges;
    if (r.length === 1 && r[0]![0] === r[0]![1]) return r[0]![0];
    return e;
  }
}

// ---------------------------------------------------------------------------------------------
// Thompson NFA, built backwards (continuation style), and a Pike VM without captures.

type Inst =
  | { op: 'char'; set: CharSet; next: number }
  | { op: 'split'; a: number; b: number }
  | { op: 'assert'; kind: AssertKind; next: number }
  | { op: 'match' };

class Compiler {
  readonly prog: Inst[] = [{ op: 'match' }];

  private push(i: Inst): number {
    if (this.prog.length >= REGEX_LIMITS.maxProgram) {
      throw new PatternError(`pattern too large (more than ${REGEX_LIMITS.maxProgram} NFA states)`, 0);
    }
    this.prog.push(i);
    return this.prog.length - 1;
  }

  compile(n: Node, k: number): number {
    switch (n.t) {
      case 'empty':
        return k;
      case 'char':
        return this.push({ op: 'char', set: n.set, next: k });
      case 'assert':
        return this.push({ op: 'assert', kind: n.kind, next: k });
      case 'cat': {
        let s = k;
        for (let i = n.items.length - 1; i >= 0; i--) s = this.compile(n.items[i]!, s);
        return s;
      }
      case 'alt': {
        const starts = n.items.map((it) => this.compile(it, k));
        let s = starts[starts.length - 1]!;
        for (let i = starts.length - 2; i >= 0; i--) s = this.push({ op: 'split', a: starts[i]!, b: s });
        return s;
      }
      case 'rep': {
        let s: number;
        if (n.max === Infinity) {
          const loop = this.push({ op: 'split', a: -1, b: k });
          const body = this.compile(n.node, loop);
          (this.prog[loop] as { a: number }).a = body;
          s = loop;
        } else {
          s = k;
          for (let i = 0; i < n.max - n.min; i++) {
            const body = this.compile(n.node, s);
            s = this.push({ op: 'split', a: body, b: k });
          }
        }
        for (let i = 0; i < n.min; i++) s = this.compile(n.node, s);
        return s;
      }
    }
  }
}

/** A compiled full-match pattern. `test` runs in O(program × input) time. */
export interface Pattern {
  readonly source: string;
  readonly syntax: 'regex' | 'glob';
  test(input: string): boolean;
}

function isWordCp(c: number | undefined): boolean {
  return c !== undefined && inSet(WORD_SET, c);
}

function makePattern(source: string, syntax: 'regex' | 'glob', node: Node): Pattern {
  const c = new Compiler();
  const start = c.compile(node, 0);
  const prog = c.prog;
  const n = prog.length;
  return {
    source,
    syntax,
    test(input: string): boolean {
      const cps: number[] = [];
      for (const ch of input) cps.push(ch.codePointAt(0)!);
      const mark = new Int32Array(n).fill(-1);
      let clist: number[] = [];
      let nlist: number[] = [];
      const stack: number[] = [];
      const add = (list: number[], s0: number, pos: number): void => {
        stack.push(s0);
        while (stack.length > 0) {
          const s = stack.pop()!;
          if (mark[s] === pos) continue;
          mark[s] = pos;
          const inst = prog[s]!;
          if (inst.op === 'split') {
            stack.push(inst.b, inst.a);
          } else if (inst.op === 'assert') {
            const prev = pos > 0 ? cps[pos - 1] : undefined;
            const next = pos < cps.length ? cps[pos] : undefined;
            const ok =
              inst.kind === 'bol'
                ? pos === 0
                : inst.kind === 'eol'
                  ? pos === cps.length
                  : (isWordCp(prev) !== isWordCp(next)) === (inst.kind === 'wb');
            if (ok) stack.push(inst.next);
          } else {
            list.push(s);
          }
        }
      };
      add(clist, start, 0);
      for (let pos = 0; pos < cps.length; pos++) {
        const ch = cps[pos]!;
        nlist.length = 0;
        for (const s of clist) {
          const inst = prog[s]!;
          if (inst.op === 'char' && inSet(inst.set, ch)) add(nlist, inst.next, pos + 1);
        }
        if (nlist.length === 0) return false;
        [clist, nlist] = [nlist, clist];
      }
      return clist.some((s) => prog[s]!.op === 'match');
    },
  };
}

function fail(kind: string, src: string, e: unknown): never {
  if (e instanceof PatternError) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `invalid ${kind} ${JSON.stringify(src)} at offset ${e.offset}: ${e.message}`,
      {
        offset: e.offset,
        reason: e.message,
      },
    );
  }
  throw e;
}

/**
 * Compiles an RE2-syntax regex for FULL matching (`^(?:expr)$` semantics). Throws VellumError
 * INVALID_ARGUMENT with the offset and reason for anything outside the supported subset.
 */
export function compileRegex(expr: string): Pattern {
  if (typeof expr !== 'string') throw new VellumError('INVALID_ARGUMENT', 'regex must be a string');
  if (expr.length > REGEX_LIMITS.maxPatternLength) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `regex longer than ${REGEX_LIMITS.maxPatternLength} characters`,
    );
  }
  try {
    return makePattern(expr, 'regex', new Parser(expr).parse());
  } catch (e) {
    fail('regex', expr, e);
  }
}

/**
 * Compiles a glob for FULL matching: `*` any run of characters (including `/` and none), `?` exactly
 * one character, `\` escapes the next character; everything else is literal.
 */
export function compileGlob(glob: string): Pattern {
  if (typeof glob !== 'string') throw new VellumError('INVALID_ARGUMENT', 'glob must be a string');
  if (glob.length > REGEX_LIMITS.maxPatternLength) {
    throw new VellumError('INVALID_ARGUMENT', `glob longer than ${REGEX_LIMITS.maxPatternLength} characters`);
  }
  try {
    const items: Node[] = [];
    const chars = [...glob];
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i]!;
      if (c === '*') {
        // Collapse runs of '*'.
        if (items.length > 0 && items[items.length - 1]!.t === 'rep') continue;
        items.push({ t: 'rep', node: { t: 'char', set: ANY }, min: 0, max: Infinity });
      } else if (c === '?') {
        items.push({ t: 'char', set: ANY });
      } else {
        let l = c;
        if (c === '\\') {
          if (i + 1 >= chars.length) throw new PatternError('trailing backslash', glob.length - 1);
          l = chars[++i]!;
        }
        items.push({ t: 'char', set: normalize([[cp(l), cp(l)]]) });
      }
    }
    return makePattern(glob, 'glob', items.length === 0 ? { t: 'empty' } : { t: 'cat', items });
  } catch (e) {
    fail('glob', glob, e);
  }
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
