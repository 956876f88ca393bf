import { schemaError } from '../http/http-error';
import { bodyParseError, isJsonObject, jsonTypeName } from './rekor-params';

export const HASH_PATTERN =
  '^(sha512:)?[0-9a-fA-F]{128}$|^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$';
const HASH_RE = new RegExp(HASH_PATTERN);
export const PUBLIC_KEY_FORMATS = ['pgp', 'x509', 'minisign', 'ssh', 'tuf'] as const;
/**
 * What Go's base64.StdEncoding decodes: padded standard alphabet, with CR and LF skipped anywhere
 * and the unused bits of the last quantum not checked (it is not the Strict variant).
 */
const GO_STD_BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// go-openapi's "email" format is permissive (net/mail); this only rules out obvious non-addresses.
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

/**
 * A decoded and validated `POST /api/v1/index/retrieve` body (Rekor's SearchIndex). Empty strings
 * are absent, as Go's zero values are: the generated Validate skips them.
 */
export interface SearchIndexQuery {
  readonly email?: string;
  readonly subject?: string;
  readonly hash?: string;
  readonly operator: 'and' | 'or';
  readonly publicKey?: { readonly format: string; readonly content?: Buffer };
}

/**
 * Rekor's two stages (see rekor-params.ts): what encoding/json refuses is 400, including
 * publicKey.content that is not standard base64 (strfmt.Base64 decodes while unmarshalling); then
 * the openapi.yaml rules (422) in the generated Validate's order: email, hash, operator,
 * publicKey, subject.
 */
export function parseSearchIndexQuery(body: unknown): SearchIndexQuery {
  if (body === undefined) throw schemaError(602, 'query in body is required');
  // JSON null decodes into the zero SearchIndex: a query for nothing.
  if (body === null) return { operator: 'or' };
  if (!isJsonObject(body))
    throw bodyParseError('query', `a JSON ${jsonTypeName(body)} cannot be a SearchIndex object`);

  const email = stringField(body, 'email');
  const subject = stringField(body, 'subject');
  const hash = stringField(body, 'hash');
  const operator = stringField(body, 'operator');
  let publicKey: { format?: string; content?: Buffer } | undefined;
  const pk = body.publicKey;
  if (pk !== undefined && pk !== null) {
    if (!isJsonObject(pk))
      throw bodyParseError('query', `cannot unmarshal ${jsonTypeName(pk)} into publicKey`);
    // format is *string in Go: present-but-empty is kept so that it fails the enum, not "required".
    const format = pk.format;
    if (format !== undefined && format !== null && typeof format !== 'string')
      throw bodyParseError(
        'query',
        `cannot unmarshal ${jsonTypeName(format)} into publicKey.format of type string`,
      );
    const content = pk.content;
    if (content !== undefined && content !== null && typeof content !== 'string')
      throw bodyParseError(
        'query',
        `cannot unmarshal ${jsonTypeName(content)} into publicKey.content of type string`,
      );
    const base64 = typeof content === 'string' ? content.replace(/[\r\n]/g, '') : undefined;
    if (base64 !== undefined && !GO_STD_BASE64_RE.test(base64))
      throw bodyParseError('query', 'publicKey.content is not valid base64');
    publicKey = {
      format: typeof format === 'string' ? format : undefined,
      content: base64 !== undefined ? Buffer.from(base64, 'base64') : undefined,
    };
  }

  if (email !== undefined && !EMAIL_RE.test(email))
    throw schemaError(601, `email in body must be of type email: ${JSON.stringify(email)}`);
  if (hash !== undefined && !HASH_RE.test(hash))
    throw schemaError(605, `hash in body should match '${HASH_PATTERN}'`);
  if (operator !== undefined && operator !== 'and' && operator !== 'or')
    throw schemaError(606, 'operator in body should be one of [and or]');
  if (publicKey !== undefined) {
    if (publicKey.format === undefined) throw schemaError(602, 'publicKey.format in body is required');
    if (!(PUBLIC_KEY_FORMATS as readonly string[]).includes(publicKey.format))
      throw schemaError(606, `publicKey.format in body should be one of [${PUBLIC_KEY_FORMATS.join(' ')}]`);
  }
  // go-openapi counts length in code points (utf8.RuneCountInString), not UTF-16 units.
  if (subject !== undefined && [...subject].length > 512)
    throw schemaError(603, 'subject in body should be at most 512 chars long');

  return {
    email,
    subject,
    hash,
    operator: operator ?? 'or',
    publicKey: publicKey && { format: publicKey.format as string, content: publicKey.content },
  };
}

/** An optional string field: null and "" are absent (Go's zero string); other types are a decode error. */
function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const v = body[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string')
    throw bodyParseError('query', `cannot unmarshal ${jsonTypeName(v)} into ${name} of type string`);
  return v;
}
