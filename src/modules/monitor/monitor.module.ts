import {
  Inject,
  Injectable,
  Logger,
  Module,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { MetricsService } from '../api/metrics.service';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import { LogModule } from '../log/log.module';
import { AdminAuthGuard } from './admin-auth';
import { AlertWriter } from './alert-writer';
import { MonitorAdminService } from './admin.service';
import { BackfillService } from './backfill.service';
import { DeliveryService } from './delivery.service';
import { EvaluatorService } from './evaluator.service';
import { MONITOR_CONFIG, loadMonitorConfig, type MonitorConfig } from './monitor.config';
import { MonitorController } from './monitor.controller';
import { MONITOR_OPTIONS, type MonitorOptions } from './monitor.options';
import { DeliveryRepository, MONITOR_REPOSITORIES } from './repositories';
import { RuleService } from './rule.service';

/** Starts and stops the monitor's background loops with the application. */
@Injectable()
export class MonitorWorkers implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Monitor');
  private started = false;

  constructor(
    private readonly evaluator: EvaluatorService,
    private readonly delivery: DeliveryService,
    private readonly backfills: BackfillService,
    private readonly deliveries: DeliveryRepository,
    @Inject(MONITOR_CONFIG) private readonly config: MonitorConfig,
    @Inject(MONITOR_OPTIONS) private readonly options: MonitorOptions,
    @Optional() private readonly metrics?: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    if (this.metrics) {
      this.metrics.gauge(
        'vellum_monitor_lag_entries',
        'Committed entries the monitor has not evaluated yet',
        async () => (await this.evaluator.status()).lagEntries ?? 0,
      );
      this.metrics.gauge(
        'vellum_monitor_outbox_pending',
        'Webhook deliveries waiting in the outbox',
        async () => (await this.deliveries.stats()).pending ?? 0,
      );
    }
    if (!(this.options.autoStart ?? this.config.workersEnabled)) return;
    this.started = true;
    this.evaluator.start();
    this.delivery.start();
    this.backfills.start();
    this.logger.log(
      `monitor running (rules file: ${this.config.rulesPath ?? 'none'}; admin API ${this.config.adminToken ? 'enabled' : 'disabled, ADMIN_TOKEN unset'})`,
    );
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await Promise.all([this.evaluator.stop(), this.delivery.stop(), this.backfills.stop()]);
  }
}

/**
 * Identity monitoring inside Vellum (docs/monitoring.md): rules (file + admin API), the evaluator
 * over committed entries, alerts with evidence, expectations, backfills and webhook delivery from
 * a durable outbox. Needs StorageModule and ConfigModule; the admin API is under /v1/monitor.
 * Override MONITOR_CONFIG / MONITOR_OPTIONS in tests.
 */
@Module({
  imports: [LogModule],
  controllers: [MonitorController],
  providers: [
    {
      provide: MONITOR_CONFIG,
      inject: [VELLUM_CONFIG],
      // Redis comes from the app's own configuration, so the webhook queue and the entry queue
      // always agree on the server and prefix.
      useFactory: (config: VellumConfig): MonitorConfig =>
        loadMonitorConfig(
          { ...process.env, REDIS_URL: config.redisUrl ?? '', REDIS_PREFIX: config.redisPrefix },
          config.role,
        ),
    },
    { provide: MONITOR_OPTIONS, useValue: {} satisfies MonitorOptions },
    ...MONITOR_REPOSITORIES,
    RuleService,
    DeliveryService,
    AlertWriter,
    EvaluatorService,
    BackfillService,
    MonitorAdminService,
    AdminAuthGuard,
    MonitorWorkers,
  ],
  exports: [
    RuleService,
    EvaluatorService,
    DeliveryService,
    BackfillService,
    ...MONITOR_REPOSITORIES,
    MonitorAdminService,
  ],
})
export class MonitorModule {}
