import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError, parseEnv, type Env } from './config-schema';

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
  /** Ed25519 PEM key signing each checkpoint's C2SP line when the log key is ECDSA. */
  readonly noteKeyPath: string;
  /** True when NOTE_KEY_PATH was given explicitly: then the file must exist. */
  readonly noteKeyExplicit: boolean;
  /** The log's public base URL (no trailing slash), as trust files name it; contains logHostname. */
  readonly publicUrl: string;
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
  /** Longest one entry may spend on a verification worker before the worker is replaced. */
  readonly verifyTaskTimeoutMs: number;
  readonly redisUrl: string | undefined;
  /**
   * Namespace of every Redis key Vellum uses (BullMQ queue prefix, results stream). Deployments
   * sharing one Redis need distinct prefixes.
   */
  readonly redisPrefix: string;
  readonly role: 'all' | 'api' | 'sequencer' | 'monitor' | 'witness';
  /**
   * The secret every queued BullMQ job is MACed with (REDIS_URL set; undefined otherwise). Either
   * the secret itself (QUEUE_HMAC_KEY) or a file holding it: QUEUE_HMAC_KEY_PATH, which must exist,
   * or for ROLE=all the default `DATA_DIR/queue-hmac.key`, generated (mode 0600) when absent.
   * Split roles must be given one explicitly: separate processes cannot agree on a generated one.
   */
  readonly queueHmacKey:
    | { readonly source: 'env'; readonly secret: Buffer }
    | { readonly source: 'file'; readonly path: string; readonly generate: boolean }
    | undefined;
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
  /**
   * SQLite: below this much free space (bytes) on the database's file system /ready fails, before
   * commits start failing for want of space; and after they did, it stays failed until there is.
   */
  readonly readyMinFreeBytes: number;
  readonly logLevel: 'error' | 'warn' | 'info' | 'debug';
  /** `json`: every log line one JSON object (for log collectors); `text`: Nest's console format. */
  readonly logFormat: 'text' | 'json';
  /** What one HTTP client may hold and ask for. */
  readonly httpLimits: HttpLimits;
}

/** Bounds on hostile or broken HTTP clients; all in milliseconds except the counts. */
export interface HttpLimits {
  readonly headersTimeoutMs: number;
  /** Receiving the whole request, headers and body; never shorter than headersTimeoutMs. */
  readonly requestTimeoutMs: number;
  /** Socket inactivity while a request body is being received. */
  readonly bodyIdleTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
  /** Requests per client address per window; 0 turns rate limiting off. */
  readonly rateLimitMax: number;
  readonly rateLimitWindowMs: number;
}

export { ConfigError, type Env } from './config-schema';

/** The default checkpoint signer name: what a local client will put in its URL. */
function defaultHostname(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `${h}:${port}`;
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): VellumConfig {
  // Every variable (the monitor's too) is validated here, so any bad value stops the boot before
  // Nest starts.
  const e = parseEnv(env);
  const port = e.PORT;
  const host = e.HOST;
  const dataDir = resolvePath(e.DATA_DIR, cwd);

  let database: VellumConfig['database'];
  if (e.DATABASE_URL === undefined) {
    database = { type: 'sqlite', path: join(dataDir, 'vellum.db') };
  } else if (e.DATABASE_URL.startsWith('sqlite:')) {
    database = {
      type: 'sqlite',
      path: resolvePath(e.DATABASE_URL.slice('sqlite:'.length).replace(/^\/\//, ''), cwd),
    };
  } else {
    database = { type: 'postgres', url: e.DATABASE_URL };
  }

  const signingKeyExplicit = e.SIGNING_KEY_PATH !== undefined;
  const signingKeyPath =
    e.SIGNING_KEY_PATH !== undefined
      ? resolvePath(e.SIGNING_KEY_PATH, cwd)
      : join(dataDir, 'signing-key.pem');

  const logHostname = e.LOG_HOSTNAME ?? defaultHostname(host, port);
  // The name goes on a signature line `— <name> <sig>` and is matched by clients against their URL;
  // checked after the default is filled in, since HOST feeds it.
  if (!/^[^\s+]+$/.test(logHostname)) {
    throw new ConfigError('LOG_HOSTNAME', 'must be non-empty with no spaces and no "+"');
  }

  const noteKeyExplicit = e.NOTE_KEY_PATH !== undefined;
  const noteKeyPath =
    e.NOTE_KEY_PATH !== undefined ? resolvePath(e.NOTE_KEY_PATH, cwd) : join(dataDir, 'note-key.pem');
  const publicUrl = (e.PUBLIC_URL ?? `http://${logHostname}`).replace(/\/+$/, '');
  // sigstore-js accepts a checkpoint line only when the trusted root's baseUrl contains its name.
  if (!publicUrl.includes(logHostname)) {
    throw new ConfigError(
      'PUBLIC_URL',
      `${publicUrl} does not contain LOG_HOSTNAME ${JSON.stringify(logHostname)}; clients match the checkpoint signer name against this URL`,
    );
  }

  const redisUrl = e.REDIS_URL;
  const role = e.ROLE;
  // Split roles are separate processes sharing the log: they need a database every process can
  // reach (PostgreSQL), and API and sequencer processes talk through Redis.
  // A witness is its own service with its own small state, so SQLite serves it.
  if (role !== 'all' && role !== 'witness' && database.type !== 'postgres') {
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

  if (e.QUEUE_HMAC_KEY !== undefined && e.QUEUE_HMAC_KEY_PATH !== undefined) {
    throw new ConfigError('QUEUE_HMAC_KEY', 'set either QUEUE_HMAC_KEY or QUEUE_HMAC_KEY_PATH, not both');
  }
  let queueHmacKey: VellumConfig['queueHmacKey'];
  if (redisUrl === undefined || role === 'monitor') queueHmacKey = undefined;
  else if (e.QUEUE_HMAC_KEY !== undefined)
    queueHmacKey = { source: 'env', secret: Buffer.from(e.QUEUE_HMAC_KEY.trim()) };
  else if (e.QUEUE_HMAC_KEY_PATH !== undefined)
    queueHmacKey = { source: 'file', path: resolvePath(e.QUEUE_HMAC_KEY_PATH, cwd), generate: false };
  else if (role === 'all')
    queueHmacKey = { source: 'file', path: join(dataDir, 'queue-hmac.key'), generate: true };
  else {
    throw new ConfigError(
      'QUEUE_HMAC_KEY',
      `ROLE=${role} with REDIS_URL needs QUEUE_HMAC_KEY or QUEUE_HMAC_KEY_PATH: the secret API processes and the sequencer authenticate queued jobs with (the same in every process)`,
    );
  }

  // Node refuses a headers timeout longer than the request timeout; say which variable is wrong.
  if (e.HEADERS_TIMEOUT_MS > e.REQUEST_TIMEOUT_MS) {
    throw new ConfigError(
      'REQUEST_TIMEOUT_MS',
      `must be at least HEADERS_TIMEOUT_MS (${e.HEADERS_TIMEOUT_MS}), got ${e.REQUEST_TIMEOUT_MS}`,
    );
  }

  const cfg: VellumConfig = {
    port,
    host,
    dataDir,
    database,
    signingKeyPath,
    signingKeyExplicit,
    noteKeyPath,
    noteKeyExplicit,
    publicUrl,
    logHostname,
    batchMaxSize: e.BATCH_MAX_SIZE,
    batchMaxAgeMs: e.BATCH_MAX_AGE_MS,
    maxEntryBytes: e.MAX_ENTRY_BYTES,
    maxPending: e.MAX_PENDING,
    verifyWorkers: e.VERIFY_WORKERS,
    verifyTaskTimeoutMs: e.VERIFY_TASK_TIMEOUT_MS,
    redisUrl,
    redisPrefix: e.REDIS_PREFIX,
    role,
    queueHmacKey,
    publicKeyPath: e.PUBLIC_KEY_PATH === undefined ? undefined : resolvePath(e.PUBLIC_KEY_PATH, cwd),
    leaseTtlMs: e.SEQUENCER_LEASE_TTL_MS,
    submitTimeoutMs: e.SUBMIT_TIMEOUT_MS,
    submitSweepAfterMs: e.SUBMIT_SWEEP_AFTER_MS,
    readyMinFreeBytes: e.READY_MIN_FREE_MB * 1024 * 1024,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    httpLimits: Object.freeze({
      headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      bodyIdleTimeoutMs: e.BODY_IDLE_TIMEOUT_MS,
      keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: e.MAX_CONNECTIONS,
      rateLimitMax: e.RATE_LIMIT_MAX,
      rateLimitWindowMs: e.RATE_LIMIT_WINDOW_MS,
    }),
  };
  return Object.freeze(cfg);
}

export function resolvePath(p: string, cwd: string): string {
  return isAbsolute(p) ? p : resolve(cwd, p);
}

/** Nest injection token for the frozen VellumConfig. */
export const VELLUM_CONFIG = Symbol('VELLUM_CONFIG');
