import { isAbsolute, resolve } from 'node:path';
import { ConfigError, int, type Env, type VellumConfig } from '../config/config';

/**
 * The monitor's own configuration (docs/monitoring.md, "Configuration"), read once at boot from the environment,
 * validated and frozen like VellumConfig. A bad value stops the boot with a ConfigError naming
 * the variable.
 */
export interface MonitorConfig {
  /** MONITOR_RULES_PATH: YAML rules file, reloaded on change (fs.watch + periodic stat). */
  readonly rulesPath: string | undefined;
  /** MONITOR_RULES_RELOAD_MS: how often the rules file is stat'ed when fs.watch misses a change. */
  readonly rulesReloadMs: number;
  /** ADMIN_TOKEN: bearer token of the /v1/monitor admin API; unset = admin API refuses every call (403). */
  readonly adminToken: string | undefined;
  /** WEBHOOK_ALLOW_PRIVATE: allow loopback / RFC 1918 / ULA webhook destinations (development). */
  readonly webhookAllowPrivate: boolean;
  /** WEBHOOK_TIMEOUT_MS: one delivery attempt's timeout. */
  readonly webhookTimeoutMs: number;
  /** WEBHOOK_CONCURRENCY: deliveries in flight per process. */
  readonly webhookConcurrency: number;
  /**
   * WEBHOOK_POLL_MS: how often the outbox is polled for due deliveries (with REDIS_URL: only while
   * Redis is unreachable).
   */
  readonly webhookPollMs: number;
  /**
   * REDIS_URL: when set, deliveries are scheduled as BullMQ jobs (the outbox table stays the source
   * of truth); unset, the outbox is polled.
   */
  readonly redisUrl: string | undefined;
  /** REDIS_PREFIX: key prefix of the BullMQ delivery queue (shared with the entry queue's prefix). */
  readonly redisPrefix: string;
  /**
   * WEBHOOK_SWEEP_MS (with REDIS_URL): how often due outbox rows are checked for a BullMQ job and
   * re-enqueued when theirs is missing (Redis lost its data, or a crash between commit and enqueue).
   */
  readonly webhookSweepMs: number;
  /** MONITOR_POLL_MS: how often the evaluator looks for a new checkpoint. */
  readonly pollMs: number;
  /** MONITOR_BATCH_SIZE: entries evaluated per cursor transaction. */
  readonly batchSize: number;
  /** MONITOR_LAG_ENTRIES: monitor.lagging when the cursor is more than this many entries behind. */
  readonly lagEntries: number;
  /** MONITOR_LAG_SECONDS: monitor.lagging when the oldest unevaluated entry is older than this. */
  readonly lagSeconds: number;
  /**
   * Whether this process runs the evaluator, the outbox delivery and backfill workers: ROLE=all
   * or ROLE=monitor, unless MONITOR_ENABLED=false. The admin API is served wherever the module is.
   */
  readonly workersEnabled: boolean;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new ConfigError(name, `must be true or false, got ${JSON.stringify(raw)}`);
}

export const ADMIN_TOKEN_MIN_LENGTH = 16;

export function loadMonitorConfig(
  env: Env = process.env,
  role: VellumConfig['role'] = 'all',
  cwd: string = process.cwd(),
): MonitorConfig {
  const rulesRaw = env.MONITOR_RULES_PATH;
  const rulesPath =
    rulesRaw === undefined || rulesRaw === ''
      ? undefined
      : isAbsolute(rulesRaw)
        ? rulesRaw
        : resolve(cwd, rulesRaw);
  const tokenRaw = env.ADMIN_TOKEN;
  const adminToken = tokenRaw === undefined || tokenRaw === '' ? undefined : tokenRaw;
  if (adminToken !== undefined) {
    if (adminToken.length < ADMIN_TOKEN_MIN_LENGTH)
      throw new ConfigError('ADMIN_TOKEN', `must be at least ${ADMIN_TOKEN_MIN_LENGTH} characters`);
    if (!/^[\x21-\x7e]+$/.test(adminToken))
      throw new ConfigError('ADMIN_TOKEN', 'must be printable ASCII without spaces');
  }
  const redisUrl = env.REDIS_URL === undefined || env.REDIS_URL === '' ? undefined : env.REDIS_URL;
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl))
    throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://');
  const redisPrefix = env.REDIS_PREFIX === undefined || env.REDIS_PREFIX === '' ? 'vellum' : env.REDIS_PREFIX;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(redisPrefix))
    throw new ConfigError('REDIS_PREFIX', 'must be 1-64 characters of A-Z, a-z, 0-9, "_", "." or "-"');
  const enabled = bool(env, 'MONITOR_ENABLED', true);
  const cfg: MonitorConfig = {
    rulesPath,
    rulesReloadMs: int(env, 'MONITOR_RULES_RELOAD_MS', 2000, 50, 3_600_000),
    adminToken,
    webhookAllowPrivate: bool(env, 'WEBHOOK_ALLOW_PRIVATE', false),
    webhookTimeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 20_000, 100, 120_000),
    webhookConcurrency: int(env, 'WEBHOOK_CONCURRENCY', 8, 1, 256),
    webhookPollMs: int(env, 'WEBHOOK_POLL_MS', 1000, 10, 600_000),
    redisUrl,
    redisPrefix,
    webhookSweepMs: int(env, 'WEBHOOK_SWEEP_MS', 5000, 10, 600_000),
    pollMs: int(env, 'MONITOR_POLL_MS', 500, 10, 600_000),
    batchSize: int(env, 'MONITOR_BATCH_SIZE', 500, 1, 100_000),
    lagEntries: int(env, 'MONITOR_LAG_ENTRIES', 100_000, 1, Number.MAX_SAFE_INTEGER),
    lagSeconds: int(env, 'MONITOR_LAG_SECONDS', 600, 1, 31_536_000),
    workersEnabled: enabled && (role === 'all' || role === 'monitor'),
  };
  return Object.freeze(cfg);
}

/** Nest injection token of the frozen MonitorConfig. */
export const MONITOR_CONFIG = Symbol('MONITOR_CONFIG');
