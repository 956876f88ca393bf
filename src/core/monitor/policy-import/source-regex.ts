/**
 * Translating the matching semantics of admission tools into Vellum rule conditions.
 *
 * Vellum regexes are whole-string RE2 matches (regex.ts). The source tools differ:
 *  - cosign `--certificate-identity-regexp` / `--certificate-oidc-issuer-regexp`, policy-controller
 *    `subjectRegExp` / `issuerRegExp`, Kyverno `subjectRegExp` / `issuerRegExp` (both hand them to
 *    cosign's CheckOpts identities) and rekor-monitor's `certSubject` / `issuers` / `subjects` are
 *    Go `regexp.MatchString`: a search anywhere in the value, so `user@domain\.com` also accepts
 *    `xuser@domain.com.evil`.
 *  - Kyverno `subject` / `issuer` are Kyverno wildcards (`*` any run, `?` one character, the
 *    whole value, no escape character).
 * Each is translated to a Vellum condition that accepts exactly the same values.
 */
import { RE2JS, RE2JSException } from 're2js';

/** Why a source pattern cannot be carried over (it is not valid RE2, so the source tool rejects it too). */
export class SourcePatternError extends Error {
  override readonly name = 'SourcePatternError';
}

/**
 * A Go-style unanchored regex as an equivalent whole-string RE2 regex: `(?s:.*)(?:re)(?s:.*)`.
 * The outer `.*` run in dot-all mode because a search may skip newlines too; `^` and `$` inside
 * keep their Go meaning (start and end of the text, as no `m` flag is set outside the group), so
 * an anchored source stays anchored. The source is compiled on its own first: a fragment such as
 * `a)|(b` would otherwise be closed by the wrapper and mean something else.
 */
export function unanchoredToFullMatch(source: string): string {
  try {
    RE2JS.compile(source);
  } catch (e) {
    if (e instanceof RE2JSException) throw new SourcePatternError(`not a valid RE2 regex: ${e.message}`);
    throw e;
  }
  if (quotesToEnd(source)) {
    // `\Q` without `\E` quotes the rest of the pattern, which would swallow the wrapper.
    source += '\\E';
  }
  // A source that already matches the whole value (`^…$` with nothing that could escape it)
  // is kept readable: the wrapper would be redundant but harmless, so it is always applied.
  return `(?s:.*)(?:${source})(?s:.*)`;
}

/** True when an unescaped `\Q` is not followed by a closing `\E`. */
function quotesToEnd(source: string): boolean {
  let quoting = false;
  for (let i = 0; i < source.length; i++) {
    if (source[i] !== '\\') continue;
    const n = source[i + 1];
    if (quoting) {
      if (n === 'E') quoting = false;
      else continue; // inside \Q…\E a backslash is literal
    } else if (n === 'Q') quoting = true;
    i++;
  }
  return quoting;
}

/**
 * A Kyverno wildcard (`*`, `?`, everything else literal, whole value) as a Vellum glob, whose only
 * difference is that `\` escapes: a literal backslash in the source is escaped.
 */
export function kyvernoWildcardToGlob(source: string): string {
  return source.replace(/\\/g, '\\\\');
}

/** True when a Kyverno wildcard pattern has wildcard characters (else it is an exact value). */
export function hasKyvernoWildcard(source: string): boolean {
  return /[*?]/.test(source);
}
