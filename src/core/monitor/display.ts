/**
 * Display helpers for hostile values (SANs, extension values) that end up in alert text.
 * Structured payloads carry raw values; only human-facing text goes through these functions.
 */

/** Longest value kept from a certificate field (characters). Longer values are truncated and flagged. */
export const MAX_VALUE_LENGTH = 1024;

export interface CappedString {
  readonly value: string;
  readonly truncated: boolean;
}

/** Caps `s` at `max` UTF-16 code units without splitting a surrogate pair. */
export function capLength(s: string, max = MAX_VALUE_LENGTH): CappedString {
  if (s.length <= max) return { value: s, truncated: false };
  let cut = max;
  const c = s.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return { value: s.slice(0, cut), truncated: true };
}

export type DisplayTarget = 'markdown' | 'html' | 'text';

const ZWSP = '\u200b';

// C0/C1 controls, DEL, bidi controls, zero-width and other invisible format characters, line and
// paragraph separators, variation selectors, lone surrogates: shown as \u{…} so nothing can
// reorder, hide or break the text around them.
const INVISIBLE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x0000, 0x001f],
  [0x007f, 0x009f],
  [0x00ad, 0x00ad],
  [0x061c, 0x061c],
  [0x115f, 0x1160],
  [0x180e, 0x180e],
  [0x200b, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x206f],
  [0x3164, 0x3164],
  [0xd800, 0xdfff], // only lone surrogates reach here: pairs are iterated as one code point
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
  [0xfff9, 0xfffb],
  [0xe0000, 0xe007f], // tag characters
];

function isInvisible(cp: number): boolean {
  return INVISIBLE_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi);
}

function escapeInvisible(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    out += isInvisible(cp) ? `\\u{${cp.toString(16).padStart(4, '0')}}` : ch;
  }
  return out;
}

const HTML_ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Neutralises a hostile value for alert text while keeping it readable as the same characters.
 *
 * Every target: truncates at {@link MAX_VALUE_LENGTH} (marked `…[truncated]`) and renders control,
 * bidi and invisible characters as `\u{xxxx}`.
 *
 * - `text`: only that (plain-text e-mail bodies, logs).
 * - `html`: also entity-escapes `& < > " '`.
 * - `markdown` (default; safe for CommonMark/GFM, Slack mrkdwn, Discord, Teams at once):
 *   entity-escapes `& < >` (kills Slack's `<!here>`, `<@U…>`, `<url|text>` and raw HTML),
 *   backslash-escapes Markdown punctuation, and inserts an invisible U+200B after `@` (mentions
 *   such as `@channel`, `@everyone`, `@user`), inside `://` and after each `.` between word
 *   characters, so no client turns the value into a mention or a link.
 */
export function escapeForDisplay(s: string, target: DisplayTarget = 'markdown'): string {
  const capped = capLength(String(s));
  let out = escapeInvisible(capped.value);
  if (target === 'html') {
    out = out.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
  } else if (target === 'markdown') {
    out = out
      .replace(/[&<>]/g, (c) => HTML_ENTITIES[c]!)
      .replace(/[\\`*_~[\]()|#!{}+=]/g, (c) => `\\${c}`)
      .replace(/@/g, `@${ZWSP}`)
      .replace(/:\/\//g, `:${ZWSP}//`)
      .replace(/(?<=[\p{L}\p{N}])\.(?=[\p{L}\p{N}])/gu, `.${ZWSP}`)
      .replace(/^-/, '\\-')
      .replace(/^([0-9]+)([.)])/, '$1\\$2');
  }
  return capped.truncated ? `${out}…[truncated]` : out;
}
