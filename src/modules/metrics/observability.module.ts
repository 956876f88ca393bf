import { Global, Module } from '@nestjs/common';
import { HealthService } from './health.service';
import { WritePathMetrics } from './write-path-metrics';

/**
 * Write-path metrics and readiness contributions, in every role. Registers into the HTTP
 * layer's MetricsService registry (the one /metrics serves) when that module is loaded.
 */
@Global()
@Module({ providers: [WritePathMetrics, HealthService], exports: [WritePathMetrics, HealthService] })
export class ObservabilityModule {}
