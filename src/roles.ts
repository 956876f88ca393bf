import type { DynamicModule, Type } from '@nestjs/common';
import type { VellumConfig } from './modules/config/config';

/** What a role puts into the application: Nest modules. */
type ModuleRef = Type<unknown> | DynamicModule;
type MigrationClass = import('./modules/storage/migrations').MigrationClass;

/*
 * Every part is required when a role asks for it, not at import time, so a process loads only
 * its role's code: ROLE=api never requires a file of src/modules/sequencer/ or src/modules/signer/
 * (test/core/boundaries.test.ts checks require.cache after booting it).
 */
const sequencerModules = (): typeof import('./modules/sequencer/sequencer.module') =>
  require('./modules/sequencer/sequencer.module');

const PARTS = {
  /** The log's public face, read from what the sequencer published (PUBLIC_KEY_PATH / `meta`). */
  publishedIdentity: (): ModuleRef[] => {
    const { IdentityModule } =
      require('./modules/identity/identity.module') as typeof import('./modules/identity/identity.module');
    return [IdentityModule.forRoot()];
  },
  /** The private key, and the identity built from it (tree id created on first boot). */
  signingIdentity: (): ModuleRef[] => {
    const { IdentityModule } =
      require('./modules/identity/identity.module') as typeof import('./modules/identity/identity.module');
    const { SigningKeyModule } =
      require('./modules/signer/signer.module') as typeof import('./modules/signer/signer.module');
    return [IdentityModule.forRoot(SigningKeyModule)];
  },
  /** Lease, batches, signing; with REDIS_URL the BullMQ consumer loop. */
  sequencer: (): ModuleRef[] => [sequencerModules().SequencerModule],
  /** WRITE_PATH: BullMQ when Redis carries the entries, else this process's own sequencer. */
  writePath: (config: VellumConfig): ModuleRef[] => {
    const { WritePathModule } =
      require('./modules/write-path/write-path.module') as typeof import('./modules/write-path/write-path.module');
    const implementation =
      config.redisUrl === undefined
        ? sequencerModules().InProcessWritePathModule
        : (require('./modules/queue/queue.module') as typeof import('./modules/queue/queue.module'))
            .QueueModule;
    return [WritePathModule.forRoot(implementation)];
  },
  /** The Rekor v1 API, tiles and the verification pool. */
  api: (): ModuleRef[] => [
    (require('./modules/entries/entries.module') as typeof import('./modules/entries/entries.module'))
      .EntriesModule,
    (require('./modules/api/api.module') as typeof import('./modules/api/api.module')).ApiModule,
  ],
  /** /health, /ready, /metrics, /ping for roles that serve no API. */
  ops: (): ModuleRef[] => [
    (require('./modules/metrics/ops-only.module') as typeof import('./modules/metrics/ops-only.module'))
      .OpsOnlyModule,
  ],
  /**
   * Identity monitoring: the admin API; its evaluator, delivery and backfill workers run only
   * where MonitorConfig says so (ROLE=all and monitor).
   */
  monitor: (): ModuleRef[] => [
    (require('./modules/monitor/monitor.module') as typeof import('./modules/monitor/monitor.module'))
      .MonitorModule,
  ],
  /** C2SP tlog-witness: cosigns other logs' checkpoints (docs/witness.md). */
  witness: (): ModuleRef[] => [
    (require('./modules/witness/witness.module') as typeof import('./modules/witness/witness.module'))
      .WitnessModule,
  ],
} as const;

/** Tables of a part's modules, which StorageModule migrates for the processes that load them. */
const PART_MIGRATIONS: Partial<Record<keyof typeof PARTS, () => readonly MigrationClass[]>> = {
  monitor: () =>
    (require('./modules/monitor/migrations') as typeof import('./modules/monitor/migrations'))
      .MONITOR_MIGRATIONS,
  witness: () =>
    (require('./modules/witness/migrations') as typeof import('./modules/witness/migrations'))
      .WITNESS_MIGRATIONS,
};

export type RolePart = keyof typeof PARTS;

/**
 * Which parts each ROLE runs. Only roles with the sequencer hold the private key; the API roles
 * take submissions through WRITE_PATH.
 * - all (default): everything in one process.
 * - api: the Rekor API; hands entries to the sequencer through Redis; no private key.
 * - sequencer: lease, batches, signing; serves only /health, /ready, /metrics.
 * - monitor: public key only; the monitor's workers and admin API, /health, /ready, /metrics.
 * - witness: no log of its own; cosigns configured logs' checkpoints (C2SP tlog-witness).
 */
export const ROLE_PARTS: Readonly<Record<VellumConfig['role'], readonly RolePart[]>> = {
  all: ['signingIdentity', 'sequencer', 'writePath', 'api', 'monitor'],
  api: ['publishedIdentity', 'writePath', 'api', 'monitor'],
  sequencer: ['signingIdentity', 'sequencer', 'ops'],
  monitor: ['publishedIdentity', 'ops', 'monitor'],
  witness: ['ops', 'witness'],
};

/** The Nest modules of `config.role`, beyond the ones every role loads. */
export function roleModules(config: VellumConfig): ModuleRef[] {
  return ROLE_PARTS[config.role].flatMap((part) => PARTS[part](config));
}

/** The migrations the modules of `config.role` register (storage adds its own). */
export function roleMigrations(config: VellumConfig): MigrationClass[] {
  return ROLE_PARTS[config.role].flatMap((part) => PART_MIGRATIONS[part]?.() ?? []);
}

/** One part's modules, for test harnesses that assemble a partial application. */
export function rolePart(part: RolePart, config: VellumConfig): ModuleRef[] {
  return PARTS[part](config);
}
