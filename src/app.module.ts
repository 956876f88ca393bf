import { DynamicModule, Module } from '@nestjs/common';
import { ApiModule } from './modules/api/api.module';
import { MetricsModule } from './modules/api/metrics.module';
import type { VellumConfig } from './modules/config/config';
import { ConfigModule } from './modules/config/config.module';
import { EntriesModule } from './modules/entries/entries.module';
import { HttpModule } from './modules/http/http.module';
import { LogModule } from './modules/log/log.module';
import { MonitorModule } from './modules/monitor/monitor.module';
import { ObservabilityModule } from './modules/metrics/observability.module';
import { OpsOnlyModule } from './modules/metrics/ops-only.module';
import { SequencerModule } from './modules/sequencer/sequencer.module';
import { SignerModule } from './modules/signer/signer.module';
import { StorageModule } from './modules/storage/storage.module';

/**
 * The application for one ROLE:
 * - all (default): every role in one process: HTTP API, verification pool, sequencer, signer, storage.
 * - api: the Rekor API; hands entries to the sequencer through Redis; no private key.
 * - sequencer: lease, batches, signing; serves only /health, /ready, /metrics.
 * - monitor: public key only; serves /health, /ready, /metrics (the monitor itself plugs in here).
 */
@Module({})
export class AppModule {
  static forRoot(config: VellumConfig): DynamicModule {
    const common = [
      ConfigModule.forRoot(config),
      HttpModule,
      MetricsModule,
      ObservabilityModule,
      StorageModule.forRoot(),
      SignerModule,
      LogModule,
    ];
    const byRole =
      config.role === 'all' || config.role === 'api'
        ? [SequencerModule, EntriesModule, ApiModule]
        : [OpsOnlyModule.forRole(config)];
    // Identity monitoring: admin API wherever there is an API or a monitor; its evaluator,
    // delivery and backfill workers run only in ROLE=all and ROLE=monitor (MonitorConfig).
    const monitor = config.role === 'sequencer' ? [] : [MonitorModule];
    return { module: AppModule, imports: [...common, ...byRole, ...monitor] };
  }
}
