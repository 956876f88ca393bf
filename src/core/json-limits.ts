import { VellumError } from './errors';

/**
 * Deepest nesting of objects and arrays accepted in any JSON request body. The deepest honest
 * body (a search by entry wrapping an intoto entry: `entries[].spec.content.envelope.signatures[]`)
 * nests about 8 levels; 64 leaves ample room while keeping every later recursive walk
 * (JSON.stringify, schema validation, canonicalization) far from the stack limit.
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Deepest object/array nesting in JSON text given as UTF-8 bytes, found in one linear pass with
 * no recursion, so it is safe to run on attacker bytes before anything parses them. Brackets
 * inside strings do not count; escapes are skipped. UTF-8 continuation and lead bytes are all
 * >= 0x80, so they never look like the ASCII structural characters. Malformed text is not
 * rejected here (JSON.parse does that); the result is only an upper bound on what a parser
 * would build.
 */
export function jsonNestingDepth(text: Uint8Array, stopAbove = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && depth > 0) depth--;
  }
  return deepest;
}

/** Throws INVALID_ARGUMENT (a 400) when the JSON text nests deeper than `maxDepth`. */
export function requireJsonDepth(text: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): void {
  if (jsonNestingDepth(text, maxDepth) > maxDepth) {
    throw new VellumError(
      'INVALID_ARGUMENT',
      `malformed JSON in request body: nested deeper than ${maxDepth} levels`,
    );
  }
}
