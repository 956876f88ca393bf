import { resolvePath, type Env, type VellumConfig } from '../config/config';
import { parseEnv } from '../config/config-schema';

export { ADMIN_TOKEN_MIN_LENGTH } from '../config/config-schema';

/**
 * The monitor's own configuration (docs/monitoring.md, "Configuration"), read once at boot from
 * the environment, validated by the one schema (config-monitor.ts describes every variable) and
 * frozen like VellumConfig. A bad value stops the boot with a ConfigError naming the variable.
 */
export function loadMonitorConfig(
  env: Env = process.env,
  role: VellumConfig['role'] = 'all',
  cwd: string = process.cwd(),
) {
  const e = parseEnv(env);
  const cfg = {
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
    // Whether this process runs the evaluator, delivery and backfill workers; the admin API is
    // served wherever the module is.
    workersEnabled: e.MONITOR_ENABLED && (role === 'all' || role === 'monitor'),
  };
  return Object.freeze(cfg);
}

export type MonitorConfig = ReturnType<typeof loadMonitorConfig>;

/** Nest injection token of the frozen MonitorConfig. */
export const MONITOR_CONFIG = Symbol('MONITOR_CONFIG');
