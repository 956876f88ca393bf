import { DynamicModule, Module } from '@nestjs/common';
import { MetricsModule } from './modules/api/metrics.module';
import type { VellumConfig } from './modules/config/config';
import { ConfigModule } from './modules/config/config.module';
import { HttpModule } from './modules/http/http.module';
import { LogModule } from './modules/log/log.module';
import { ObservabilityModule } from './modules/metrics/observability.module';
import { StorageModule } from './modules/storage/storage.module';
import { roleMigrations, roleModules } from './roles';

/** The application for one ROLE: what every role shares, then the role's parts (src/roles.ts). */
@Module({})
export class AppModule {
  static forRoot(config: VellumConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        HttpModule,
        MetricsModule,
        ObservabilityModule,
        StorageModule.forRoot({ migrations: roleMigrations(config) }),
        LogModule,
        ...roleModules(config),
      ],
    };
  }
}
