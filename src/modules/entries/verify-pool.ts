import { Inject, Injectable, Logger, OnModuleDestroy, Optional } from '@nestjs/common';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Counter, Registry } from 'prom-client';
import { ERROR_CODES, ErrorCode, VellumError } from '../../core/errors';
import { createFastVerifier } from '../../crypto/fast-verifier';
import { MetricsService } from '../api/metrics.service';
import { VELLUM_CONFIG, VellumConfig } from '../config/config';
import type { PreparedEntry } from '../log/log.types';
import { prepareFromJson } from './verify-core';
import { ownedBytes, VerifyRequest, VerifyResult, WorkerProgress } from './verify-protocol';

interface Task {
  readonly req: VerifyRequest;
  readonly resolve: (p: PreparedEntry) => void;
  readonly reject: (e: Error) => void;
}

interface Slot {
  readonly worker: Worker;
  /** The batch this worker is working on; empty when idle. At most one batch per worker. */
  readonly busy: Map<number, Task>;
  readonly startedAt: number;
  readonly progress: WorkerProgress;
  /** Stopped for running past the time budget; its exit and any late answer are ignored. */
  retired: boolean;
}

/**
 * Upper bound on one message. A worker answers a batch all at once, so an entry waits for its whole
 * batch: small batches stream results to the sequencer instead of releasing them in bursts.
 */
const MAX_BATCH = 32;

/**
 * Runs entry preparation (JSON parse, validation, signature verification, canonicalization) on
 * `config.verifyWorkers` worker threads, so the event loop only moves bytes. With
 * verifyWorkers=0 it runs in-thread.
 *
 * Each worker has at most one batch outstanding; requests wait in one shared queue and an idle
 * worker takes its share of it. Under load the queue fills while the workers are busy, so batches
 * grow with the load and the per-message cost (about 20 µs for a lone message, a few µs per entry
 * in a batch of 16) is amortized; when idle, a request is dispatched in the same event-loop turn.
 *
 * Time budget: each worker publishes which entry it is on and since when (WorkerProgress). A
 * watchdog fails an entry that has run longer than `config.verifyTaskTimeoutMs` with a 400,
 * terminates its worker (a synchronous verification cannot be interrupted any other way), starts
 * a replacement at once and puts the rest of that worker's batch back at the head of the queue:
 * their answers were to come with the batch's, so they are prepared again (preparation is pure).
 * An honest entry on a machine starved of CPU can also run past the budget; it gets the same 400
 * and may be resubmitted.
 */
@Injectable()
export class VerifyPool implements OnModuleDestroy {
  private readonly logger = new Logger('verify-pool');
  private readonly slots: Slot[] = [];
  private queue: Task[] = [];
  private queueHead = 0;
  private nextId = 1;
  private inflightTotal = 0;
  private dispatchScheduled = false;
  private closing = false;
  private inlineVerifier: ReturnType<typeof createFastVerifier> | undefined;
  /** Above this many entries waiting for verification, new ones are pushed back (503). */
  private readonly maxInflight: number;
  private readonly budgetMs: number;
  private readonly watchdog: NodeJS.Timeout | undefined;
  private readonly killed: Counter;

  constructor(@Inject(VELLUM_CONFIG) config: VellumConfig, @Optional() metrics?: MetricsService) {
    this.maxInflight = Math.max(64, config.maxPending);
    this.budgetMs = config.verifyTaskTimeoutMs;
    const registry = metrics?.registry ?? new Registry();
    this.killed =
      (registry.getSingleMetric('vellum_verify_tasks_killed_total') as Counter | undefined) ??
      new Counter({
        name: 'vellum_verify_tasks_killed_total',
        help: 'entries whose verification ran past VERIFY_TASK_TIMEOUT_MS (each one cost a worker thread)',
        registers: [registry],
      });
    for (let i = 0; i < config.verifyWorkers; i++) this.slots.push(this.spawn());
    if (config.verifyWorkers > 0) {
      // A tick of a quarter of the budget stops an entry by 1.25 budgets at the latest.
      const tick = Math.min(250, Math.max(5, Math.floor(this.budgetMs / 4)));
      this.watchdog = setInterval(() => this.stopOverrunning(), tick);
      this.watchdog.unref();
    }
  }

  /** Entries stopped for running past the time budget, since this pool started. */
  async killedTasks(): Promise<number> {
    return (await this.killed.get()).values[0]?.value ?? 0;
  }

  /** Live workers (fewer than configured while a crashed one is being replaced). */
  get size(): number {
    return this.slots.length;
  }

  /** Entries queued or being prepared. */
  get inflight(): number {
    return this.inflightTotal;
  }

  /** Prepares one proposed entry given as raw JSON bytes; rejects with the core's VellumError. */
  prepare(json: Uint8Array, forSearch = false): Promise<PreparedEntry> {
    return this.run(json, forSearch, false);
  }

  /** Prepares one Rekor v2 CreateEntryRequest given as raw JSON bytes (same pool, same pushback). */
  prepareV2(json: Uint8Array): Promise<PreparedEntry> {
    return this.run(json, false, true);
  }

  private run(json: Uint8Array, forSearch: boolean, v2: boolean): Promise<PreparedEntry> {
    if (this.slots.length === 0) {
      try {
        this.inlineVerifier ??= createFastVerifier();
        return Promise.resolve(prepareFromJson(json, this.inlineVerifier, forSearch, v2));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    }
    if (this.closing) return Promise.reject(new VellumError('UNAVAILABLE', 'server is shutting down'));
    if (this.inflightTotal >= this.maxInflight) {
      return Promise.reject(
        new VellumError('PUSHBACK', 'too many entries waiting for verification, retry later'),
      );
    }
    const bytes = ownedBytes(json);
    // Ids travel through an Int32Array (WorkerProgress): wrap before 2^31, never reaching 0.
    const id = this.nextId;
    this.nextId = (this.nextId % 0x7fffffff) + 1;
    const req: VerifyRequest = forSearch
      ? { id, json: bytes, forSearch }
      : v2
        ? { id, json: bytes, v2 }
        : { id, json: bytes };
    return new Promise<PreparedEntry>((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.inflightTotal++;
      // Dispatch at the end of this event-loop turn, so requests parsed together travel together.
      if (!this.dispatchScheduled) {
        this.dispatchScheduled = true;
        setImmediate(() => {
          this.dispatchScheduled = false;
          this.dispatch();
        });
      }
    });
  }

  /** An already-parsed proposed entry, prepared for a search by entry (no insertability checks). */
  prepareForSearch(value: unknown): Promise<PreparedEntry> {
    return this.prepare(Buffer.from(JSON.stringify(value) ?? 'null', 'utf8'), true);
  }

  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    if (this.watchdog) clearInterval(this.watchdog);
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Hands every idle worker an even share of the queue. */
  private dispatch(): void {
    if (this.queued === 0) return;
    const idle = this.slots.filter((s) => s.busy.size === 0);
    if (idle.length === 0) {
      // No worker left at all (all crashed and not yet replaced): prepare in-thread.
      if (this.slots.length === 0) this.drainInline();
      return;
    }
    const share = Math.min(MAX_BATCH, Math.ceil(this.queued / idle.length));
    for (const slot of idle) {
      if (this.queued === 0) break;
      const n = Math.min(share, this.queued);
      const batch: VerifyRequest[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const task = this.queue[this.queueHead]!;
        this.queue[this.queueHead++] = undefined as unknown as Task;
        slot.busy.set(task.req.id, task);
        batch[i] = task.req;
      }
      // Copied, not transferred: the pool keeps each request's bytes until its answer arrives, so
      // a batch whose worker is stopped for running past the budget can be sent again.
      slot.worker.postMessage(batch);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private drainInline(): void {
    this.inlineVerifier ??= createFastVerifier();
    while (this.queued > 0) {
      const task = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Task;
      this.inflightTotal--;
      try {
        task.resolve(
          prepareFromJson(
            task.req.json,
            this.inlineVerifier,
            task.req.forSearch === true,
            task.req.v2 === true,
          ),
        );
      } catch (e) {
        task.reject(e as Error);
      }
    }
  }

  private spawn(): Slot {
    const progress = new WorkerProgress();
    const worker = new Worker(join(__dirname, 'verify-worker.js'), {
      workerData: { progress: progress.buffer },
    });
    // Workers must not keep a shutting-down process alive.
    worker.unref();
    const slot: Slot = { worker, busy: new Map(), startedAt: Date.now(), progress, retired: false };
    worker.on('message', (results: VerifyResult[]) => this.onResults(slot, results));
    worker.on('error', (err) => this.logger.error(`verification worker failed: ${err.stack ?? err.message}`));
    worker.on('exit', (code) => this.onExit(slot, code));
    return slot;
  }

  /** The watchdog: fails each entry past the time budget and replaces the worker it holds. */
  private stopOverrunning(): void {
    if (this.closing) return;
    const now = Date.now();
    for (const slot of [...this.slots]) {
      if (slot.busy.size === 0) continue;
      const at = slot.progress.current();
      if (at === undefined || now - at.since <= this.budgetMs) continue;
      const task = slot.busy.get(at.id);
      if (task === undefined) continue;
      this.retire(slot, task, now - at.since);
    }
  }

  private retire(slot: Slot, culprit: Task, ranMs: number): void {
    slot.retired = true;
    slot.busy.delete(culprit.req.id);
    this.inflightTotal--;
    this.killed.inc();
    culprit.reject(
      new VellumError(
        'INVALID_ENTRY',
        `verifying this entry took longer than the ${this.budgetMs} ms allowed per entry; it was stopped`,
      ),
    );
    this.queue.splice(this.queueHead, 0, ...slot.busy.values());
    slot.busy.clear();
    this.slots.splice(this.slots.indexOf(slot), 1);
    this.logger.warn(
      `an entry ran ${ranMs} ms on a verification worker (budget ${this.budgetMs} ms); replacing the worker`,
    );
    void slot.worker.terminate();
    this.slots.push(this.spawn());
    this.dispatch();
  }

  private onExit(slot: Slot, code: number): void {
    if (slot.retired) return;
    // The batch it held is lost: fail those requests (503); queued ones go to the other workers.
    for (const task of slot.busy.values()) {
      task.reject(new VellumError('UNAVAILABLE', 'signature verification worker stopped'));
    }
    this.inflightTotal -= slot.busy.size;
    slot.busy.clear();
    const idx = this.slots.indexOf(slot);
    if (idx >= 0) this.slots.splice(idx, 1);
    if (this.closing) return;
    this.logger.error(`verification worker exited with code ${code}; starting a new one`);
    // A worker that dies at once (e.g. the native addon fails to load) would otherwise respawn in
    // a tight loop; the replacement is then started after a pause.
    const replace = () => {
      if (this.closing) return;
      this.slots.push(this.spawn());
      this.dispatch();
    };
    if (Date.now() - slot.startedAt < 1000) setTimeout(replace, 1000).unref();
    else replace();
    this.dispatch();
  }

  private onResults(slot: Slot, results: VerifyResult[]): void {
    for (const r of results) {
      const task = slot.busy.get(r.id);
      if (!task) continue;
      slot.busy.delete(r.id);
      this.inflightTotal--;
      if (r.ok) {
        task.resolve({
          kind: r.kind,
          apiVersion: r.apiVersion,
          body: Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength),
          leafHash: Buffer.from(r.leafHash.buffer, r.leafHash.byteOffset, r.leafHash.byteLength),
          indexKeys: r.indexKeys,
        });
      } else {
        const code: ErrorCode = (ERROR_CODES as readonly string[]).includes(r.code)
          ? (r.code as ErrorCode)
          : 'INTERNAL';
        if (code === 'INTERNAL') this.logger.error(`entry preparation failed: ${r.message}`);
        task.reject(new VellumError(code, r.message, r.details));
      }
    }
    // This worker is idle again: give it what queued up meanwhile.
    this.dispatch();
  }
}
