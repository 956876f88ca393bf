import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit, Optional } from '@nestjs/common';
import { VellumError } from '../../core/errors';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import type { AcceptedEntry, PreparedEntry } from '../log/log.types';
import { WritePathMetrics } from '../metrics/write-path-metrics';
import { type WritePath, refuseEntry } from '../write-path/write-path';
import { SequencerService } from './sequencer.service';

/**
 * The embedded write path (ROLE=all without REDIS_URL): submissions go straight into this
 * process's sequencer queue. Entries in it are lost on a crash; none of them was acknowledged.
 */
@Injectable()
export class InProcessWritePath implements WritePath, OnModuleInit, OnModuleDestroy {
  private accepting = false;
  private readonly metrics: WritePathMetrics;

  constructor(
    @Inject(VELLUM_CONFIG) private readonly config: VellumConfig,
    private readonly sequencer: SequencerService,
    @Optional() metrics?: WritePathMetrics,
  ) {
    this.metrics = metrics ?? new WritePathMetrics();
  }

  /** Runs after SequencerService.onModuleInit (its module is imported here): the lease is held. */
  onModuleInit(): void {
    this.accepting = true;
  }

  onModuleDestroy(): void {
    this.accepting = false;
  }

  submit(entry: PreparedEntry): Promise<AcceptedEntry> {
    const refused = refuseEntry(this.accepting, entry);
    if (refused !== undefined) return Promise.reject(refused);
    const pending = this.pendingCount();
    if (pending >= this.config.maxPending) {
      this.metrics.pushbacks.inc();
      return Promise.reject(
        new VellumError('PUSHBACK', `${pending} entries are waiting to be sequenced; retry later`, {
          pending,
          retryAfterSeconds: 1,
        }),
      );
    }
    return this.sequencer.engine.queue.enqueue(entry);
  }

  /** Queued plus the batch in flight. */
  pendingCount(): number {
    return this.sequencer.engine.pending;
  }
}
