/**
 * The one error class of the core library. Every failure the core can report carries a code from a
 * closed set, so callers (the HTTP filter, the CLI, tests) can switch on it without parsing messages.
 * The HTTP layer maps codes to statuses in exactly one place (src/modules/http).
 */
export const ERROR_CODES = [
  /** A submitted entry is malformed or fails validation (bad base64, bad PEM, wrong digest length, ...). */
  'INVALID_ENTRY',
  /** Request shape is wrong before any semantics: missing/ill-typed fields, patterns, item counts (Rekor's 422s). */
  'SCHEMA_VIOLATION',
  /** The entry kind is not one Vellum knows. */
  'UNSUPPORTED_KIND',
  /** The kind is known but this apiVersion is not implemented. */
  'UNSUPPORTED_VERSION',
  /** The signature does not verify, or the algorithm pair is not allowed by policy. */
  'INVALID_SIGNATURE',
  /** An equivalent entry (same leaf hash) is already in the log. */
  'DUPLICATE_ENTRY',
  /** A request or call argument is out of range or malformed (sizes, indices, paths, queries). */
  'INVALID_ARGUMENT',
  /** A Merkle inclusion or consistency proof does not verify. */
  'INVALID_PROOF',
  /** A signed note / checkpoint / cosignature is malformed or its signature does not verify. */
  'INVALID_NOTE',
  /** A key cannot be parsed, has an unsupported type, or does not match. */
  'INVALID_KEY',
  /** Tile data is missing, truncated, or inconsistent with the tree it claims to describe. */
  'INVALID_TILE',
  /** A signed entry timestamp does not verify. */
  'INVALID_SET',
  /** Two views of the log cannot both be true (fork, rewritten entry, inconsistent checkpoint). */
  'INCONSISTENT_LOG',
  /** Something that was asked for does not exist. */
  'NOT_FOUND',
  /** The request clashes with the current state (a name already taken, an alert already resolved). */
  'CONFLICT',
  /** A monitoring rule (or rules file) does not validate; `details.errors` / `warnings` give each problem's path. */
  'INVALID_RULE',
  /** No usable credentials were presented; `details.challenge` is the WWW-Authenticate value to answer with. */
  'UNAUTHENTICATED',
  /** The credentials are wrong, or the operation is disabled for everyone. */
  'FORBIDDEN',
  /** The request is larger than allowed. */
  'TOO_LARGE',
  /** The log is overloaded; the client should retry later. */
  'PUSHBACK',
  /** This client address asked too often; `details.retryAfterSeconds` says when it may ask again. */
  'RATE_LIMITED',
  /** A dependency (database, queue, sequencer) is unavailable. */
  'UNAVAILABLE',
  /** An internal invariant was broken; never caused by client input. */
  'INTERNAL',
  /** Bytes that must be DER are not (BER forms, bad lengths, trailing data, too deep, wrong types). */
  'INVALID_DER',
  /** A certificate or public key is well-formed but not acceptable (algorithm, SAN, chain, duplicates). */
  'INVALID_CERTIFICATE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class VellumError extends Error {
  override readonly name = 'VellumError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

export function isVellumError(e: unknown, code?: ErrorCode): e is VellumError {
  return e instanceof VellumError && (code === undefined || e.code === code);
}

/** Throws INVALID_ARGUMENT unless `cond` holds; for argument checks inside the core. */
export function check(cond: unknown, code: ErrorCode, message: string): asserts cond {
  if (!cond) throw new VellumError(code, message);
}
