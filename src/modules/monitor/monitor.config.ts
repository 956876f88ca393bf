import { resolvePath, type Env, type VellumConfig } from '../config/config';
import { parseEnv } from '../config/config-schema';

/**
 * The monitor's own configuration (docs/monitoring.md, "Configuration"), read once at boot from
 * the environment, validated by the one schema in config-schema.ts and frozen like VellumConfig.
 * A bad value stops the boot with a ConfigError naming the variable.
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

export { ADMIN_TOKEN_MIN_LENGTH } from '../config/config-schema';

export function loadMonitorConfig(
  env: Env = process.env,
  role: VellumConfig['role'] = 'all',
  cwd: string = process.cwd(),
): MonitorConfig {
  const e = parseEnv(env);
  const cfg: MonitorConfig = {
    rulesPath: e.MONITOR_RULES_PATH === undefined ? undefined : resolvePath(e.MONITOR_RULES_PATH, cwd),
    rulesReloadMs: e.MONITOR_RULES_RELOAD_MS,
    adminToken: e.ADMIN_TOKEN,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
    webhookTimeoutMs: e.WEBHOOK_TIMEOUT_MS,
    webhookConcurrency: e.WEBHOOK_CONCURRENCY,
    webhookPollMs: e.WEBHOOK_POLL_MS,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    webhookSweepMs: e.WEBHOOK_SWEEP_MS,
    pollMs: e.MONITOR_POLL_MS,
    batchSize: e.MONITOR_BATCH_SIZE,
    lagEntries: e.MONITOR_LAG_ENTRIES,
    lagSeconds: e.MONITOR_LAG_SECONDS,
    workersEnabled: e.MONITOR_ENABLED && (role === 'all' || role === 'monitor'),
  };
  return Object.freeze(cfg);
}

/** Nest injection token of the frozen MonitorConfig. */
export const MONITOR_CONFIG = Symbol('MONITOR_CONFIG');
