import {
  closeSync,
  fsyncSync,
  mkdirSync,
  linkSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError, type VellumConfig } from '../config/config';
import { LogSigningKey } from '../../core/keys';
import { isVellumError } from '../../core/errors';

export interface LoadedSigningKey {
  readonly key: LogSigningKey;
  /** True when this boot generated the key (first boot without SIGNING_KEY_PATH). */
  readonly generated: boolean;
  /** Set when the key file can be read by group or others. */
  readonly looseMode?: number;
}

function parseKeyFile(path: string): LogSigningKey {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('SIGNING_KEY_PATH', `cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return LogSigningKey.fromPem(pem);
  } catch (e) {
    const why = isVellumError(e) ? e.message : String(e);
    throw new ConfigError(
      'SIGNING_KEY_PATH',
      `${path} is not a usable log key (${why}); expected an unencrypted ECDSA P-256 or Ed25519 key, PKCS#8 or SEC1 PEM`,
    );
  }
}

/**
 * Writes `data` to `path` with mode 0600 without ever exposing a partial file there: write and
 * fsync a temporary file, hard-link it into place (which fails if `path` already exists, so two
 * processes booting at once cannot overwrite each other's key), fsync the directory.
 * A crash before the link leaves only a stray `.tmp-*` file and no key; the next boot generates
 * again. A crash after the link leaves a complete key.
 */
function writeNewFileDurably(path: string, data: string): boolean {
  const tmp = join(dirname(path), `.tmp-${randomBytes(6).toString('hex')}-signing-key`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  let created = true;
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    created = false;
  } finally {
    unlinkSync(tmp);
  }
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
  return created;
}

/**
 * The log's private key: SIGNING_KEY_PATH when given (it must exist), else `signing-key.pem` in
 * DATA_DIR, generated as ECDSA P-256 on first boot.
 */
export function loadOrCreateSigningKey(config: VellumConfig): LoadedSigningKey {
  const path = config.signingKeyPath;
  let exists = true;
  try {
    statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError('SIGNING_KEY_PATH', `cannot access ${path}: ${(e as Error).message}`);
    }
    exists = false;
  }
  if (!exists) {
    if (config.signingKeyExplicit) {
      throw new ConfigError(
        'SIGNING_KEY_PATH',
        `${path} does not exist. Point SIGNING_KEY_PATH at an existing ECDSA P-256 or Ed25519 PEM key, ` +
          'or unset it to have Vellum generate one in DATA_DIR on first boot',
      );
    }
    // First boot on a fresh DATA_DIR: the key is the first thing written there, before storage opens.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const key = LogSigningKey.generate('ecdsa-p256');
    if (writeNewFileDurably(path, key.toPkcs8Pem())) return { key, generated: true };
    // Another process generated the key between our stat and link: use theirs.
  }
  const key = parseKeyFile(path);
  const mode = statSync(path).mode & 0o777;
  return (mode & 0o077) !== 0 ? { key, generated: false, looseMode: mode } : { key, generated: false };
}
