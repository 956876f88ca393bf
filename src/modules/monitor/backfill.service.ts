import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { candidateKeys, parseRules, type IdentityRule } from '../../core/monitor';
import { LogReader } from '../log/log-reader.service';
import type { StoredEntry } from '../log/log.types';
import { VellumDatabase } from '../storage/database';
import { AlertWriter } from './alert-writer';
import { badRequest, notFound } from './monitor-errors';
import { MONITOR_CONFIG, type MonitorConfig } from './monitor.config';
import { MONITOR_OPTIONS, type MonitorOptions } from './monitor.options';
import {
  BackfillRepository,
  type BackfillProgress,
  type BackfillRecord,
} from './repositories/backfill.repository';
import { IdentityIndexRepository } from './repositories/identity-index.repository';
import { MonitorStateRepository } from './repositories/monitor-state.repository';
import { RuleRepository } from './repositories/rule.repository';
import { RuleService } from './rule.service';
import { PollingLoop } from './polling-loop';

/**
 * Backfills: one rule run over past entries, as a resumable job with progress in
 * monitor_backfills. Entries the live evaluator already indexed (below its cursor when the job
 * was created) are found through the identity index when every scope item has an exact-value
 * subject / fingerprint / repository-id condition (plus every entry flagged `malformed`); otherwise,
 * and for entries past that point, the job scans. Alert ids are the same as live ones, so a
 * backfill overlapping the live evaluator (or another backfill) never duplicates an alert.
 */
@Injectable()
export class BackfillService {
  private readonly logger = new Logger('MonitorBackfill');
  private readonly now: () => number;
  private readonly loop = new PollingLoop(
    () => this.step(),
    () => this.config.pollMs,
    (e) => this.logger.error(`backfill step failed: ${(e as Error)?.message ?? String(e)}`),
  );

  constructor(
    private readonly jobs: BackfillRepository,
    private readonly ruleRepo: RuleRepository,
    private readonly state: MonitorStateRepository,
    private readonly identityIndex: IdentityIndexRepository,
    private readonly rules: RuleService,
    private readonly reader: LogReader,
    private readonly db: VellumDatabase,
    private readonly alerts: AlertWriter,
    @Inject(MONITOR_CONFIG) private readonly config: MonitorConfig,
    @Inject(MONITOR_OPTIONS) options: MonitorOptions,
  ) {
    this.now = options.now ?? Date.now;
    // A rule that asks for it (spec.backfill) gets a job when it is added or changed.
    this.rules.onRulesAdded(async (added) => {
      for (const r of added) if (r.backfill) await this.create(r.id, r.backfill.fromIndex);
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  kick(): void {
    this.loop.kick();
  }

  async create(ruleName: string, fromIndex?: number, toIndex?: number): Promise<BackfillRecord> {
    const stored = await this.ruleRepo.get(ruleName);
    if (!stored) throw notFound(`rule '${ruleName}'`);
    const rule = parseRules(stored.document).rules[0]!;
    const cp = await this.reader.latestCheckpoint();
    const cursor = await this.state.getCursor();
    const from = fromIndex ?? rule.backfill?.fromIndex ?? 0;
    const to = Math.min(toIndex ?? cp.size, cp.size);
    if (!Number.isSafeInteger(from) || from < 0) throw badRequest('fromIndex must be a non-negative integer');
    if (!Number.isSafeInteger(to) || to < from)
      throw badRequest(`toIndex must be an integer >= fromIndex (the log has ${cp.size} entries)`);
    const keys = candidateKeys(rule);
    const indexedTo = Math.max(from, Math.min(cursor.nextIndex, to));
    const candidates =
      keys === undefined
        ? to - from
        : (await this.identityIndex.countCandidates(keys, from, indexedTo)) + (to - indexedTo);
    const now = this.now();
    const job: BackfillRecord = {
      id: randomUUID(),
      ruleId: rule.id,
      fromIndex: from,
      toIndex: to,
      indexedTo: keys === undefined ? from : indexedTo,
      mode: keys === undefined ? 'scan' : 'index',
      status: from >= to ? 'done' : 'queued',
      nextIndex: from,
      candidates,
      processed: 0,
      alerts: 0,
      createdAt: now,
      updatedAt: now,
      ...(from >= to ? { finishedAt: now } : {}),
    };
    await this.db.transaction((tx) => this.jobs.insert(tx, job));
    this.logger.log(
      `backfill ${job.id} of rule ${rule.id} over [${from}, ${to}) queued (${job.mode}, ${candidates} candidates)`,
    );
    this.kick();
    return job;
  }

  /** Runs one chunk of the oldest unfinished job. False when there was nothing to do. */
  async step(chunk = 500): Promise<boolean> {
    const job = await this.jobs.next();
    if (!job) return false;
    const now = this.now();
    const stored = await this.ruleRepo.get(job.ruleId);
    if (!stored) {
      const failed: BackfillProgress = {
        status: 'failed',
        nextIndex: job.nextIndex,
        error: 'the rule was deleted',
        now,
        finished: true,
      };
      await this.db.transaction((tx) => this.jobs.update(tx, job.id, failed, job.nextIndex));
      return true;
    }
    const rule: IdentityRule = parseRules(stored.document).rules[0]!;
    const keys = job.mode === 'index' ? candidateKeys(rule) : undefined;
    let indexes: number[];
    let next: number;
    if (keys !== undefined && job.nextIndex < job.indexedTo) {
      indexes = await this.identityIndex.candidates(keys, job.nextIndex, job.indexedTo, chunk);
      next = indexes.length < chunk ? job.indexedTo : indexes[indexes.length - 1]! + 1;
    } else {
      next = Math.min(job.toIndex, job.nextIndex + chunk);
      indexes = Array.from({ length: next - job.nextIndex }, (_, i) => job.nextIndex + i);
    }
    const entries: StoredEntry[] = indexes.length === 0 ? [] : await this.reader.entriesAt(indexes);
    const cp = await this.reader.latestCheckpoint();
    const { alerts } = await this.alerts.evaluate(entries, [rule], now, cp, 'backfill');
    const done = next >= job.toIndex;
    const progress: BackfillProgress = {
      status: done ? 'done' : 'running',
      nextIndex: next,
      processedDelta: entries.length,
      now,
      finished: done,
    };
    await this.alerts.commit(
      alerts,
      now,
      (tx) => this.jobs.update(tx, job.id, progress, job.nextIndex),
      async (tx, inserted) => {
        if (inserted > 0) await this.jobs.addAlerts(tx, job.id, inserted);
      },
    );
    if (done) this.logger.log(`backfill ${job.id} of rule ${job.ruleId} done`);
    return true;
  }

  /** Jobs of one rule, newest first. */
  async listRecent(ruleId: string): Promise<BackfillRecord[]> {
    return (await this.jobs.list(1000)).filter((b) => b.ruleId === ruleId);
  }

  /** Runs jobs until none is left (tests). */
  async runUntilIdle(): Promise<void> {
    while (await this.step()) {
      /* next chunk */
    }
  }
}
