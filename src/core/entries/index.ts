/**
 * Entry kinds: turn a client's ProposedEntry into the canonical bytes the log stores.
 *
 *   prepareEntry(input, verifier) -> { kind, apiVersion, body, leafHash, indexKeys }
 *
 * `input` is the parsed JSON request body, i.e. anything an attacker can write. The contract is
 * that only VellumError ever escapes: SCHEMA_VIOLATION (422) for a malformed ProposedEntry
 * envelope, UNSUPPORTED_KIND (422) for a kind Rekor does not define, UNSUPPORTED_VERSION,
 * INVALID_ENTRY and INVALID_SIGNATURE (400) with the Rekor v1 server's messages for
 * everything inside `spec`. INTERNAL is reserved for bugs and is never expected.
 *
 * The body is rebuilt from validated fields only and serialized with RFC 8785 JCS, so whitespace,
 * key order, PEM wrapping and base64 line breaks in the request cannot change the leaf hash.
 */
import { VellumError, isVellumError } from '../errors';
import { canonicalBytes } from '../jcs';
import { leafHash } from '../merkle/hash';
import type { PreparedEntry } from './types';
import type { SignatureVerifier } from './verifier';
import type { KindResult, PrepareOptions } from './kind';
import {
  API_CODE,
  entryError,
  field,
  finishIndexKeys,
  invalidEntry,
  isObject,
  jsonTypeName,
  type JsonObject,
  schemaViolation,
} from './common';
import { prepareHashedRekord } from './hashedrekord';
import { prepareDsse } from './dsse';
import { prepareIntoto } from './intoto';
import { MAX_BUNDLE_ENTRY_SIZE } from '../tiles/tiles';

export type { PreparedEntry } from './types';
export type { SignatureVerifier, DigestAlgorithm } from './verifier';
export { referenceVerifier } from './verifier';
export type { ArtifactKey, VerificationMaterial, KeyAlgorithm, EcCurve } from '../x509';
export type { PrepareOptions } from './kind';

/** Every kind Rekor's API defines (the ProposedEntry discriminator). */
export const REKOR_KINDS = [
  'alpine',
  'cose',
  'dsse',
  'hashedrekord',
  'helm',
  'intoto',
  'jar',
  'rekord',
  'rfc3161',
  'rpm',
  'tuf',
] as const;

type Handler = (
  spec: { readonly [k: string]: unknown },
  verifier: SignatureVerifier,
  opts: PrepareOptions,
) => KindResult;

const HANDLERS: Readonly<Record<string, Readonly<Record<string, Handler>>>> = {
  hashedrekord: { '0.0.1': prepareHashedRekord },
  dsse: { '0.0.1': prepareDsse },
  intoto: { '0.0.2': prepareIntoto },
};

/** The kinds and versions Vellum accepts. */
export const supportedKinds: ReadonlyArray<{
  readonly kind: string;
  readonly apiVersions: readonly string[];
}> = Object.freeze(
  Object.entries(HANDLERS).map(([kind, versions]) =>
    Object.freeze({ kind, apiVersions: Object.freeze(Object.keys(versions)) }),
  ),
);

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

const TOP_LEVEL = new Set(['kind', 'apiVersion', 'spec']);

/** Attacker text echoed in an error message is cut short: messages end up in logs. */
function quote(s: string): string {
  return JSON.stringify(s.length > 128 ? s.slice(0, 128) + '...' : s);
}

/** The `kind` of a ProposedEntry if it is one Rekor defines, without validating anything else. */
export function kindOf(input: unknown): (typeof REKOR_KINDS)[number] | undefined {
  if (!isObject(input)) return undefined;
  const k = field(input, 'kind');
  return (REKOR_KINDS as readonly unknown[]).includes(k) ? (k as (typeof REKOR_KINDS)[number]) : undefined;
}

/** go-openapi's `required` and `type` checks of one member of the request body. */
function requiredOfType<T>(value: unknown, name: string, type: 'object' | 'string'): T {
  if (value === null || value === undefined)
    throw schemaViolation(API_CODE.required, `${name} in body is required`);
  const actual = jsonTypeName(value);
  if (actual !== type)
    throw schemaViolation(
      API_CODE.invalidType,
      `${name} in body must be of type ${type}: ${JSON.stringify(actual)}`,
    );
  return value as T;
}

function validateProposedEntry(input: unknown): {
  kind: string;
  apiVersion: string;
  spec: { readonly [k: string]: unknown };
} {
  const entry = requiredOfType<JsonObject>(input, 'proposedEntry', 'object');
  const kind = requiredOfType<string>(field(entry, 'kind'), 'kind', 'string');
  if (!(REKOR_KINDS as readonly string[]).includes(kind))
    throw new VellumError('UNSUPPORTED_KIND', `invalid kind value: ${quote(kind)}`);
  for (const k of Object.keys(entry)) {
    if (!TOP_LEVEL.has(k))
      throw schemaViolation(API_CODE.forbidden, `${quote(k).slice(1, -1)} in body is a forbidden property`);
  }
  const apiVersion = requiredOfType<string>(field(entry, 'apiVersion'), 'apiVersion', 'string');
  if (!SEMVER.test(apiVersion))
    throw schemaViolation(API_CODE.pattern, `apiVersion in body should match '${SEMVER.source}'`);
  const spec = requiredOfType<JsonObject>(field(entry, 'spec'), 'spec', 'object');
  return { kind, apiVersion, spec };
}

function prepare(input: unknown, verifier: SignatureVerifier, opts: PrepareOptions): PreparedEntry {
  const { kind, apiVersion, spec } = validateProposedEntry(input);
  const versions = HANDLERS[kind];
  if (versions === undefined) {
    // A real Rekor kind Vellum does not implement: Rekor's answer for a kind it has switched off.
    throw invalidEntry(`entry kind '${kind}' is not enabled for submission on this server`);
  }
  const handler = Object.prototype.hasOwnProperty.call(versions, apiVersion)
    ? versions[apiVersion]
    : undefined;
  if (handler === undefined) {
    throw entryError(
      'UNSUPPORTED_VERSION',
      `${kind} implementation for version '${apiVersion}' not found: unable to locate entry for version ${apiVersion}`,
    );
  }
  const result = handler(spec, verifier, opts);
  let body: Buffer;
  try {
    body = canonicalBytes(result.body);
  } catch (e) {
    // JCS refuses strings that have no UTF-8 form (lone surrogates), e.g. in an intoto keyid.
    if (isVellumError(e, 'INVALID_ARGUMENT'))
      throw invalidEntry('entry contains a string that is not valid Unicode');
    throw e;
  }
  // Size policy, here where every entry (v1 and v2 kinds alike) gets its canonical body: C2SP
  // tlog-tiles entry bundles prefix each body with a uint16 length, so a larger body could be
  // logged but never served as tiles. Refused at submission instead; a search may still name
  // such an entry (it finds nothing).
  if (!opts.forSearch && body.length > MAX_BUNDLE_ENTRY_SIZE) {
    throw new VellumError(
      'TOO_LARGE',
      `canonicalized entry is ${body.length} bytes; this log accepts entries of at most ${MAX_BUNDLE_ENTRY_SIZE} bytes ` +
        'once canonicalized (C2SP tlog-tiles entry bundles carry a 16-bit length)',
      { limit: MAX_BUNDLE_ENTRY_SIZE },
    );
  }
  return {
    kind,
    apiVersion,
    body,
    leafHash: leafHash(body),
    indexKeys: finishIndexKeys(result.indexKeys),
  };
}

/**
 * Validates, verifies and canonicalizes a proposed entry (synchronously: callers run it on a
 * worker pool). Throws VellumError only.
 */
export function prepareEntry(
  input: unknown,
  verifier: SignatureVerifier,
  opts: PrepareOptions = {},
): PreparedEntry {
  try {
    return prepare(input, verifier, opts);
  } catch (e) {
    if (e instanceof VellumError) throw e;
    // A bug, never a client error: keep it visible (5xx, logged) instead of disguising it.
    throw new VellumError('INTERNAL', 'error generating canonicalized entry', {
      cause: e instanceof Error ? e.message : String(e),
    });
  }
}
