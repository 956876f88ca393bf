import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

type GaugeSource = () => number | Promise<number>;

/**
 * Prometheus metrics of one app instance. A private registry (not prom-client's global one) so
 * that several apps in one process, as in tests, do not collide on metric names.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'vellum_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly entries = new Counter({
    name: 'vellum_entries_submitted_total',
    help: 'Entry submissions by outcome (accepted, duplicate, rejected, error) and kind',
    labelNames: ['outcome', 'kind'] as const,
    registers: [this.registry],
  });

  /** Children resolved once per label set: `labels()` per request costs a string join and lookup. */
  private readonly httpChildren = new Map<string, Histogram.Internal<'method' | 'route' | 'status'>>();
  private readonly entryChildren = new Map<string, Counter.Internal>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'vellum_' });
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = this.httpDuration.labels(method, route, String(status));
      this.httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  countEntry(outcome: 'accepted' | 'duplicate' | 'rejected' | 'error', kind: string): void {
    const key = `${outcome} ${kind}`;
    let child = this.entryChildren.get(key);
    if (!child) {
      child = this.entries.labels(outcome, kind);
      this.entryChildren.set(key, child);
    }
    child.inc();
  }

  /** A gauge read on every scrape; for values other services own (queue depth, tree size). */
  gauge(name: string, help: string, source: GaugeSource): void {
    if (this.registry.getSingleMetric(name)) return;
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        this.set(await source());
      },
    });
  }
}
