import { Injectable, Optional } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MetricsService } from '../api/metrics.service';

type Source = () => number | Promise<number>;

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Metrics of the write path (queue, batcher, sequencer, lease) and of the Redis hand-off. They
 * go into the application's registry (MetricsService, served at /metrics) when there is one, else
 * into a private registry (module tests boot without HTTP).
 *
 * entries/s is `rate(vellum_entries_sequenced_total[1m])`; queue depth, batch size and age,
 * sequencing latency and the checkpoint size are what an operator watches first.
 */
@Injectable()
export class WritePathMetrics {
  readonly registry: Registry;
  readonly batchSize: Histogram;
  readonly batchAge: Histogram;
  readonly batchDuration: Histogram;
  readonly sequencingLatency: Histogram;
  readonly queueWait: Histogram;
  readonly entriesSequenced: Counter;
  readonly batches: Counter<'outcome'>;
  readonly checkpointSize: Gauge;
  readonly sequencerActive: Gauge;
  readonly answers: Counter<'path'>;
  readonly pushbacks: Counter;
  private readonly sources = new Map<string, Source>();

  constructor(@Optional() app?: MetricsService) {
    this.registry = app?.registry ?? new Registry();
    const registers = [this.registry];
    this.batchSize = this.histogram(
      'vellum_batch_size',
      'entries per batch cut by the batcher',
      [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    );
    this.batchAge = this.histogram(
      'vellum_batch_age_seconds',
      'age of the oldest entry of a batch when the batch was cut',
      SECONDS,
    );
    this.batchDuration = this.histogram(
      'vellum_batch_duration_seconds',
      'one batch: sequence, store, sign, commit and hand out the answers',
      SECONDS,
    );
    this.sequencingLatency = this.histogram(
      'vellum_sequencing_latency_seconds',
      'per entry: from reaching the sequencer to the commit of its batch',
      SECONDS,
    );
    this.queueWait = this.histogram(
      'vellum_queue_wait_seconds',
      'per entry (REDIS_URL): from the API enqueueing the job to the sequencer taking it',
      SECONDS,
    );
    this.entriesSequenced =
      this.existing('vellum_entries_sequenced_total') ??
      new Counter({
        name: 'vellum_entries_sequenced_total',
        help: 'entries appended to the log by this process (rate = entries/s)',
        registers,
      });
    this.batches =
      this.existing('vellum_batches_total') ??
      new Counter({
        name: 'vellum_batches_total',
        help: 'batches by outcome (committed, failed)',
        labelNames: ['outcome'] as const,
        registers,
      });
    this.checkpointSize =
      this.existing('vellum_checkpoint_size') ??
      new Gauge({
        name: 'vellum_checkpoint_size',
        help: 'tree size of the latest checkpoint this sequencer committed or loaded',
        registers,
      });
    this.sequencerActive =
      this.existing('vellum_sequencer_active') ??
      new Gauge({
        name: 'vellum_sequencer_active',
        help: '1 while this process holds the sequencer lease and sequences, else 0',
        registers,
      });
    this.answers =
      this.existing('vellum_queue_answers_total') ??
      new Counter({
        name: 'vellum_queue_answers_total',
        help: 'API submissions (REDIS_URL) answered, by path: stream (the batch record), database (fallback sweep), timeout',
        labelNames: ['path'] as const,
        registers,
      });
    this.pushbacks =
      this.existing('vellum_pushback_total') ??
      new Counter({
        name: 'vellum_pushback_total',
        help: 'submissions refused with 503 because MAX_PENDING entries were waiting',
        registers,
      });
  }

  /**
   * A gauge read at scrape time. Re-registering a name replaces its source (the last writer of a
   * process wins), so a restarted component never leaves a stale closure behind.
   */
  gauge(name: string, help: string, source: Source): void {
    this.sources.set(name, source);
    if (this.registry.getSingleMetric(name) !== undefined) return;
    const sources = this.sources;
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        const s = sources.get(name);
        if (s === undefined) return;
        try {
          this.set(await s());
        } catch {
          // A scrape must not fail because a dependency is down; /ready reports that.
          this.set(Number.NaN);
        }
      },
    });
  }

  private existing<T>(name: string): T | undefined {
    return this.registry.getSingleMetric(name) as T | undefined;
  }

  private histogram(name: string, help: string, buckets: number[]): Histogram {
    return (
      this.existing<Histogram>(name) ?? new Histogram({ name, help, buckets, registers: [this.registry] })
    );
  }
}
