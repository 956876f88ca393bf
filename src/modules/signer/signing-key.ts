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
import { LogSigningKey, type LogKeyAlgorithm } from '../../core/keys';
import { isVellumError } from '../../core/errors';

export interface LoadedSigningKey {
  readonly key: LogSigningKey;
  /** True when this boot generated the key (first boot without SIGNING_KEY_PATH). */
  readonly generated: boolean;
  /** Set when the key file can be read by group or others. */
  readonly looseMode?: number;
}

/** Which key file: the variable naming it, and what kind of key it must hold. */
export interface KeyFileSpec {
  readonly variable: 'SIGNING_KEY_PATH' | 'NOTE_KEY_PATH' | 'WITNESS_KEY_PATH';
  readonly path: string;
  readonly explicit: boolean;
  /** What the key is, in messages. */
  readonly what: 'log key' | 'note key' | 'witness key';
  /** The algorithm generated on first boot. */
  readonly generate: LogKeyAlgorithm;
  /** Algorithms the file may hold, as a reader should see them. */
  readonly accepts: readonly LogKeyAlgorithm[];
}

const ALGORITHM_NAMES: Record<LogKeyAlgorithm, string> = { 'ecdsa-p256': 'ECDSA P-256', ed25519: 'Ed25519' };

function expected(spec: KeyFileSpec): string {
  return spec.accepts.map((a) => ALGORITHM_NAMES[a]).join(' or ');
}

function parseKeyFile(spec: KeyFileSpec): LogSigningKey {
  const { path, variable } = spec;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(variable, `cannot read ${path}: ${(e as Error).message}`);
  }
  let key: LogSigningKey;
  try {
    key = LogSigningKey.fromPem(pem);
  } catch (e) {
    const why = isVellumError(e) ? e.message : String(e);
    throw new ConfigError(
      variable,
      `${path} is not a usable ${spec.what} (${why}); expected an unencrypted ${expected(spec)} key, PKCS#8 or SEC1 PEM`,
    );
  }
  if (!spec.accepts.includes(key.algorithm)) {
    throw new ConfigError(
      variable,
      `${path} holds an ${ALGORITHM_NAMES[key.algorithm]} key; expected ${expected(spec)}`,
    );
  }
  return key;
}

/**
 * Writes `data` to `path` with mode 0600 without ever exposing a partial file there: write and
 * fsync a temporary file, hard-link it into place (which fails if `path` already exists, so two
 * processes booting at once cannot overwrite each other's key), fsync the directory.
 * A crash before the link leaves only a stray `.tmp-*` file and no key; the next boot generates
 * again. A crash after the link leaves a complete key.
 */
function writeNewFileDurably(path: string, data: string): boolean {
  const tmp = join(dirname(path), `.tmp-${randomBytes(6).toString('hex')}-key`);
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
 * A key file: the configured path when given explicitly (it must exist), else generated on first
 * boot. A crash after the file is linked into place but before the key is used or published
 * leaves the file, and the next boot loads it: one key per DATA_DIR, never a second one.
 */
export function loadOrCreateKeyFile(spec: KeyFileSpec): LoadedSigningKey {
  const { path, variable } = spec;
  let exists = true;
  try {
    statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(variable, `cannot access ${path}: ${(e as Error).message}`);
    }
    exists = false;
  }
  if (!exists) {
    if (spec.explicit) {
      throw new ConfigError(
        variable,
        `${path} does not exist. Point ${variable} at an existing ${expected(spec)} PEM key, ` +
          'or unset it to have Vellum generate one in DATA_DIR on first boot',
      );
    }
    // First boot on a fresh DATA_DIR: keys are the first things written there, before storage opens.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const key = LogSigningKey.generate(spec.generate);
    if (writeNewFileDurably(path, key.toPkcs8Pem())) return { key, generated: true };
    // Another process generated the key between our stat and link: use theirs.
  }
  const key = parseKeyFile(spec);
  const mode = statSync(path).mode & 0o777;
  return (mode & 0o077) !== 0 ? { key, generated: false, looseMode: mode } : { key, generated: false };
}

/**
 * The log's private key: SIGNING_KEY_PATH when given (it must exist), else `signing-key.pem` in
 * DATA_DIR, generated as ECDSA P-256 on first boot.
 */
export function loadOrCreateSigningKey(config: VellumConfig): LoadedSigningKey {
  return loadOrCreateKeyFile({
    variable: 'SIGNING_KEY_PATH',
    path: config.signingKeyPath,
    explicit: config.signingKeyExplicit,
    what: 'log key',
    generate: 'ecdsa-p256',
    accepts: ['ecdsa-p256', 'ed25519'],
  });
}

/**
 * The Ed25519 note key that signs each checkpoint's C2SP line when the log key is ECDSA:
 * NOTE_KEY_PATH, else `note-key.pem` in DATA_DIR, generated on first boot. Null for an Ed25519
 * log key, which signs that line itself; naming a note key then is a mistake and stops the boot.
 */
export function loadOrCreateNoteKey(config: VellumConfig, logKey: LogSigningKey): LoadedSigningKey | null {
  if (logKey.algorithm === 'ed25519') {
    if (config.noteKeyExplicit) {
      throw new ConfigError(
        'NOTE_KEY_PATH',
        'the log key is Ed25519 and signs the C2SP checkpoint line itself; unset NOTE_KEY_PATH',
      );
    }
    return null;
  }
  return loadOrCreateKeyFile({
    variable: 'NOTE_KEY_PATH',
    path: config.noteKeyPath,
    explicit: config.noteKeyExplicit,
    what: 'note key',
    generate: 'ed25519',
    accepts: ['ed25519'],
  });
}
