import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * Vellum's configuration: read once at boot from the environment, validated, frozen.
 * A bad value stops the boot with a message naming the variable (ConfigError).
 */
export interface VellumConfig {
  readonly port: number;
  readonly host: string;
  /** Where the SQLite file and the generated signing key live. Absolute. */
  readonly dataDir: string;
  /** `sqlite` (default, file under dataDir) or `postgres` (DATABASE_URL). */
  readonly database:
    { readonly type: 'sqlite'; readonly path: string } | { readonly type: 'postgres'; readonly url: string };
  /** PEM file holding the log's private key; generated (ECDSA P-256, mode 0600) when absent. */
  readonly signingKeyPath: string;
  /** True when SIGNING_KEY_PATH was given explicitly: then the file must exist, nothing is generated. */
  readonly signingKeyExplicit: boolean;
  /** Checkpoint signer name; must be a substring of the URL clients use (sigstore-js checks it). */
  readonly logHostname: string;
  readonly batchMaxSize: number;
  readonly batchMaxAgeMs: number;
  /** Largest accepted request body, in bytes. */
  readonly maxEntryBytes: number;
  /** Entries waiting to be sequenced beyond which submissions get 503 + Retry-After. */
  readonly maxPending: number;
  /** Signature-verification worker threads. */
  readonly verifyWorkers: number;
  readonly redisUrl: string | undefined;
  /**
   * Namespace of every Redis key Vellum uses (BullMQ queue prefix, results stream). Deployments
   * sharing one Redis need distinct prefixes.
   */
  readonly redisPrefix: string;
  readonly role: 'all' | 'api' | 'sequencer' | 'monitor';
  /**
   * PEM public key of the log, for processes that do not hold the private key (ROLE=api, monitor).
   * Unset: they read the key the active sequencer published in the database (`meta.public_key`).
   */
  readonly publicKeyPath: string | undefined;
  /** How long a sequencer lease stays valid without renewal; a standby takes over after it lapses. */
  readonly leaseTtlMs: number;
  /**
   * How long an API request waits for its entry to be sequenced (REDIS_URL set) before it gets
   * 503; the entry may still be logged later, and a retry then gets it (201 or 409).
   */
  readonly submitTimeoutMs: number;
  /**
   * API role with Redis: a submission still unanswered after this long is looked up in the
   * database (answers it if its batch committed but the batch record was lost) or re-queued.
   */
  readonly submitSweepAfterMs: number;
  readonly logLevel: 'error' | 'warn' | 'info' | 'debug';
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

/** The environment as read at boot. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A whole-number variable in [min, max], `def` when unset; ConfigError naming it otherwise. */
export function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^[0-9]+$/.test(raw.trim()))
    throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  const v = Number(raw.trim());
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${raw}`);
  }
  return v;
}

function oneOf<T extends string>(env: Env, name: string, def: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** The default checkpoint signer name: what a local client will put in its URL. */
function defaultHostname(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `${h}:${port}`;
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): VellumConfig {
  const port = int(env, 'PORT', 3000, 0, 65535);
  const host = env.HOST && env.HOST !== '' ? env.HOST : '127.0.0.1';
  const dataDirRaw = env.DATA_DIR && env.DATA_DIR !== '' ? env.DATA_DIR : './data';
  const dataDir = isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw);

  let database: VellumConfig['database'];
  const dbUrl = env.DATABASE_URL;
  if (dbUrl === undefined || dbUrl === '') {
    database = { type: 'sqlite', path: join(dataDir, 'vellum.db') };
  } else if (/^postgres(ql)?:\/\//.test(dbUrl)) {
    try {
      new URL(dbUrl);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid URL');
    }
    database = { type: 'postgres', url: dbUrl };
  } else if (dbUrl.startsWith('sqlite:')) {
    const p = dbUrl.slice('sqlite:'.length).replace(/^\/\//, '');
    if (p === '') throw new ConfigError('DATABASE_URL', 'sqlite: needs a file path');
    database = { type: 'sqlite', path: isAbsolute(p) ? p : resolve(cwd, p) };
  } else {
    throw new ConfigError('DATABASE_URL', 'must start with postgres://, postgresql:// or sqlite:');
  }

  const keyRaw = env.SIGNING_KEY_PATH;
  const signingKeyExplicit = keyRaw !== undefined && keyRaw !== '';
  const signingKeyPath = signingKeyExplicit
    ? isAbsolute(keyRaw)
      ? keyRaw
      : resolve(cwd, keyRaw)
    : join(dataDir, 'signing-key.pem');

  const logHostname =
    env.LOG_HOSTNAME && env.LOG_HOSTNAME !== '' ? env.LOG_HOSTNAME : defaultHostname(host, port);
  // The name goes on a signature line `— <name> <sig>` and is matched by clients against their URL.
  if (!/^[^\s+]+$/.test(logHostname)) {
    throw new ConfigError('LOG_HOSTNAME', 'must be non-empty with no spaces and no "+"');
  }

  const redisUrl = env.REDIS_URL && env.REDIS_URL !== '' ? env.REDIS_URL : undefined;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://');
  }

  const redisPrefix = env.REDIS_PREFIX && env.REDIS_PREFIX !== '' ? env.REDIS_PREFIX : 'vellum';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(redisPrefix)) {
    throw new ConfigError('REDIS_PREFIX', 'must be 1-64 characters of A-Z, a-z, 0-9, "_", "." or "-"');
  }
  const pubRaw = env.PUBLIC_KEY_PATH;
  const publicKeyPath =
    pubRaw === undefined || pubRaw === '' ? undefined : isAbsolute(pubRaw) ? pubRaw : resolve(cwd, pubRaw);
  const role = oneOf(env, 'ROLE', 'all', ['all', 'api', 'sequencer', 'monitor'] as const);
  // Split roles are separate processes sharing the log: they need a database every process can
  // reach (PostgreSQL), and API and sequencer processes talk through Redis.
  if (role !== 'all' && database.type !== 'postgres') {
    throw new ConfigError(
      'DATABASE_URL',
      `ROLE=${role} runs the log across several processes and needs PostgreSQL (postgres://...); use ROLE=all for the embedded SQLite default`,
    );
  }
  if ((role === 'api' || role === 'sequencer') && redisUrl === undefined) {
    throw new ConfigError(
      'REDIS_URL',
      `ROLE=${role} needs REDIS_URL: API processes hand entries to the sequencer through a Redis (BullMQ) queue`,
    );
  }

  const cfg: VellumConfig = {
    port,
    host,
    dataDir,
    database,
    signingKeyPath,
    signingKeyExplicit,
    logHostname,
    batchMaxSize: int(env, 'BATCH_MAX_SIZE', 1024, 1, 100_000),
    batchMaxAgeMs: int(env, 'BATCH_MAX_AGE_MS', 50, 1, 60_000),
    maxEntryBytes: int(env, 'MAX_ENTRY_BYTES', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxPending: int(env, 'MAX_PENDING', 20_000, 1, 10_000_000),
    verifyWorkers: int(env, 'VERIFY_WORKERS', Math.max(1, availableParallelism()), 0, 256),
    redisUrl,
    redisPrefix,
    role,
    publicKeyPath,
    leaseTtlMs: int(env, 'SEQUENCER_LEASE_TTL_MS', 5000, 500, 600_000),
    submitTimeoutMs: int(env, 'SUBMIT_TIMEOUT_MS', 30_000, 100, 600_000),
    submitSweepAfterMs: int(env, 'SUBMIT_SWEEP_AFTER_MS', 2_000, 100, 600_000),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['error', 'warn', 'info', 'debug'] as const),
  };
  return Object.freeze(cfg);
}

/** Nest injection token for the frozen VellumConfig. */
export const VELLUM_CONFIG = Symbol('VELLUM_CONFIG');
