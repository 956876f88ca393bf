import { join } from 'node:path';
import { resolvePath, type Env, type VellumConfig } from '../config/config';
import { parseEnv } from '../config/config-schema';

/** The witness role's configuration (docs/witness.md), read once at boot and frozen. */
export function loadWitnessConfig(config: VellumConfig, env: Env = process.env, cwd: string = process.cwd()) {
  const e = parseEnv(env);
  return Object.freeze({
    name: e.WITNESS_NAME ?? config.logHostname,
    keyPath:
      e.WITNESS_KEY_PATH !== undefined
        ? resolvePath(e.WITNESS_KEY_PATH, cwd)
        : join(config.dataDir, 'witness-key.pem'),
    keyExplicit: e.WITNESS_KEY_PATH !== undefined,
    logs: e.WITNESS_LOGS,
  });
}

export type WitnessConfig = ReturnType<typeof loadWitnessConfig>;
export const WITNESS_CONFIG = Symbol('WITNESS_CONFIG');
