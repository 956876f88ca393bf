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
    this.batchSize = this.histogram(
      'vellum_batch_size',
      'entries per batch cut by the batcher',
      [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    );
    [this.batchAge, this.batchDuration, this.sequencingLatency, this.queueWait] = (
      [
        ['vellum_batch_age_seconds', 'age of the oldest entry of a batch when the batch was cut'],
        [
          'vellum_batch_duration_seconds',
          'commit stage of one batch: fence, store, COMMIT and hand out the answers (the prepare stage overlaps the batch ahead)',
        ],
        [
          'vellum_sequencing_latency_seconds',
          'per entry: from reaching the sequencer to the commit of its batch',
        ],
        [
          'vellum_queue_wait_seconds',
          'per entry (REDIS_URL): from the API enqueueing the job to the sequencer taking it',
        ],
      ] as const
    ).map(([name, help]) => this.histogram(name, help, SECONDS));
    this.entriesSequenced = this.counter(
      'vellum_entries_sequenced_total',
      'entries appended to the log by this process (rate = entries/s)',
    );
    this.batches = this.counter('vellum_batches_total', 'batches by outcome (committed, failed)', [
      'outcome',
    ] as const);
    this.checkpointSize = this.plainGauge(
      'vellum_checkpoint_size',
      'tree size of the latest checkpoint this sequencer committed or loaded',
    );
    this.sequencerActive = this.plainGauge(
      'vellum_sequencer_active',
      '1 while this process holds the sequencer lease and sequences, else 0',
    );
    this.answers = this.counter(
      'vellum_queue_answers_total',
      'API submissions (REDIS_URL) answered, by path: stream (the batch record), database (fallback sweep), timeout',
      ['path'] as const,
    );
    this.pushbacks = this.counter(
      'vellum_pushback_total',
      'submissions refused with 503 because MAX_PENDING entries were waiting',
    );
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

  // A second instance in the same process (tests boot several apps) reuses what the first registered.
  private histogram(name: string, help: string, buckets: number[]): Histogram {
    return (
      this.existing<Histogram>(name) ?? new Histogram({ name, help, buckets, registers: [this.registry] })
    );
  }

  private counter<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
  ): Counter<L> {
    return (
      this.existing<Counter<L>>(name) ?? new Counter({ name, help, labelNames, registers: [this.registry] })
    );
  }

  private plainGauge(name: string, help: string): Gauge {
    return this.existing<Gauge>(name) ?? new Gauge({ name, help, registers: [this.registry] });
  }
}
