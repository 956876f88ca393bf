import type { Queue } from 'bullmq';
import type { PreparedEntry } from '../log/log.types';
import type { PendingGauge } from './pending-gauge';
import { type JobData, encodeJob } from './wire';

/**
 * Queues jobs whose id is the leaf hash. An existing job with this id (queued or being sequenced)
 * makes an add a no-op and keeps that job's submission token: whichever submission's add created
 * the job is the one the batch record names. Adds of one event-loop turn (a verification batch
 * returns many entries at once) go out as one pipelined addBulk: one socket write instead of one
 * per entry.
 */
export class JobAdder {
  private adds: Array<{ hex: string; entry: PreparedEntry; token: string; done: (e?: unknown) => void }> = [];

  constructor(
    private readonly queue: Queue<JobData>,
    private readonly key: Buffer,
    private readonly gauge: PendingGauge,
  ) {}

  add(entry: PreparedEntry, token: string): Promise<void> {
    const hex = entry.leafHash.toString('hex');
    return new Promise<void>((resolve, reject) => {
      if (this.adds.length === 0) setImmediate(() => this.flush());
      this.gauge.addSent();
      this.adds.push({ hex, entry, token, done: (e) => (e === undefined ? resolve() : reject(e)) });
    });
  }

  private flush(): void {
    const batch = this.adds;
    this.adds = [];
    if (batch.length === 0) return;
    this.queue
      .addBulk(
        batch.map((a) => ({
          name: 'entry',
          data: encodeJob(this.key, a.entry, a.token),
          opts: { jobId: a.hex },
        })),
      )
      .then(
        () => {
          for (const a of batch) {
            this.gauge.addSettled(true);
            a.done();
          }
        },
        (e: unknown) => {
          for (const a of batch) {
            this.gauge.addSettled(false);
            a.done(e ?? new Error('addBulk failed'));
          }
        },
      );
  }
}
