import { type ErrorCode, isVellumError } from '../core/errors';
import { ConfigError } from '../modules/config/config';

/**
 * The command line's exit codes, one table for every command: 0 success; 1 the log (or an entry)
 * failed verification; 2 a usage or configuration mistake; 3 any other failure (network, server,
 * our own bug), where retrying may help.
 */
export const EXIT = { ok: 0, verificationFailed: 1, usage: 2, error: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A command-line mistake: printed without a stack trace, exit code EXIT.usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What each error code means for a command's exit, from the one closed set in core/errors. */
const EXIT_BY_CODE: Readonly<Record<ErrorCode, ExitCode>> = {
  // The log showed something that does not verify: what `verify` and `monitor` exist to catch.
  INCONSISTENT_LOG: EXIT.verificationFailed,
  INVALID_PROOF: EXIT.verificationFailed,
  INVALID_NOTE: EXIT.verificationFailed,
  INVALID_SET: EXIT.verificationFailed,
  INVALID_TILE: EXIT.verificationFailed,
  INVALID_SIGNATURE: EXIT.verificationFailed,
  INVALID_ENTRY: EXIT.verificationFailed,
  INVALID_DER: EXIT.verificationFailed,
  INVALID_CERTIFICATE: EXIT.verificationFailed,
  // The operator's input is wrong: arguments, key files, rules files.
  INVALID_ARGUMENT: EXIT.usage,
  INVALID_KEY: EXIT.usage,
  INVALID_RULE: EXIT.usage,
  SCHEMA_VIOLATION: EXIT.usage,
  UNSUPPORTED_KIND: EXIT.usage,
  UNSUPPORTED_VERSION: EXIT.usage,
  TOO_LARGE: EXIT.usage,
  UNAUTHENTICATED: EXIT.usage,
  FORBIDDEN: EXIT.usage,
  // Everything else: the log or the network did not answer as needed this time.
  DUPLICATE_ENTRY: EXIT.error,
  NOT_FOUND: EXIT.error,
  CONFLICT: EXIT.error,
  PUSHBACK: EXIT.error,
  RATE_LIMITED: EXIT.error,
  UNAVAILABLE: EXIT.error,
  INTERNAL: EXIT.error,
};

/** The exit code for a failure that reached the top of a command. */
export function exitCodeOf(e: unknown): ExitCode {
  if (e instanceof UsageError || e instanceof ConfigError) return EXIT.usage;
  if (isVellumError(e)) return EXIT_BY_CODE[e.code];
  return EXIT.error;
}
