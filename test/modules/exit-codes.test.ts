import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, VellumError } from '../../src/core/errors';
import { EXIT, UsageError, exitCodeOf } from '../../src/cli/exit-codes';
import { ConfigError } from '../../src/modules/config/config';
import { toHttpError } from '../../src/modules/http/http-error';

test('every error code has a CLI exit code from the one table; failures of the log itself exit 1', () => {
  const allowed = new Set<number>(Object.values(EXIT).filter((c) => c !== EXIT.ok));
  for (const code of ERROR_CODES) {
    const exit = exitCodeOf(new VellumError(code, code));
    assert.ok(allowed.has(exit), `${code} -> ${exit}`);
    // A code the HTTP face blames on the log's own data is, to a verifying client, a log that
    // failed verification; except INTERNAL (a bug) and INVALID_KEY, which on the command line
    // is the operator's --public-key file.
    const http = toHttpError(new VellumError(code, code), 1024).status;
    if (http === 500 && code !== 'INTERNAL' && code !== 'INVALID_KEY')
      assert.equal(exit, EXIT.verificationFailed, code);
  }
  assert.equal(exitCodeOf(new VellumError('INCONSISTENT_LOG', 'fork')), EXIT.verificationFailed);
  assert.equal(exitCodeOf(new VellumError('UNAVAILABLE', 'down')), EXIT.error);
  assert.equal(exitCodeOf(new UsageError('--log is required')), EXIT.usage);
  assert.equal(exitCodeOf(new ConfigError('ROLE', 'bad')), EXIT.usage);
  assert.equal(exitCodeOf(new Error('bug')), EXIT.error);
});
