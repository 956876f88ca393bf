import { z } from 'zod';
import { monitorVariables } from './config-monitor';
import { serverVariables } from './config-server';
import { witnessVariables } from './config-witness';

export { ADMIN_TOKEN_MIN_LENGTH } from './config-monitor';
export { type VariableDoc, variableDocs } from './config-variables';

/**
 * Every environment variable Vellum reads, as one zod schema: the server's and the monitor's.
 * `npm run docs:config` renders the README's configuration tables from it, so the documentation
 * cannot drift from what the code accepts.
 */
export const envSchema = z.object({ ...serverVariables, ...witnessVariables, ...monitorVariables });

/** The environment after validation: defaults filled in, numbers parsed. */
export type ParsedEnv = z.output<typeof envSchema>;

/** Raised for the first variable (in schema order) whose value the schema rejects. */
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

export function parseEnv(env: Env): ParsedEnv {
  const r = envSchema.safeParse(env);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const name = issue.path.length > 0 ? String(issue.path[0]) : 'environment';
  throw new ConfigError(name, issue.message);
}

/**
 * One variable through its schema entry, for commands that need a single setting rather than a
 * whole server configuration (`vellum monitor` and VELLUM_WEBHOOK_SECRET).
 */
export function parseVariable<K extends keyof typeof envSchema.shape>(
  name: K,
  env: Env,
): z.output<(typeof envSchema.shape)[K]> {
  const r = envSchema.shape[name].safeParse(env[name]);
  if (r.success) return r.data as z.output<(typeof envSchema.shape)[K]>;
  throw new ConfigError(name, r.error.issues[0]?.message ?? 'invalid value');
}
