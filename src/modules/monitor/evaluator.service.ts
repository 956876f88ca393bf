import { Inject, Injectable, Logger } from '@nestjs/common';
import { verifyRekorCheckpoint } from '../../core/checkpoint';
import { isVellumError } from '../../core/errors';
import { LogFollower, type FollowerPosition } from '../../core/follower/log-follower';
import { LogReader } from '../log/log-reader.service';
import type { SignedCheckpoint, StoredEntry } from '../log/log.types';
import { LogIdentity } from '../identity/log-identity';
import { VellumDatabase } from '../storage/database';
import { DbLeafSource } from './db-leaf-source';
import { AlertWriter, logAlert } from './alert-writer';
import { CompactRange } from '../../core/follower/compact-range';
import { logEvent } from './monitor-events';
import { MONITOR_CONFIG, type MonitorConfig } from './monitor.config';
import { MONITOR_OPTIONS, type MonitorOptions } from './monitor.options';
import type { NewAlert } from './repositories/alert.repository';
import { IdentityIndexRepository } from './repositories/identity-index.repository';
import { MonitorStateRepository, type Cursor } from './repositories/monitor-state.repository';
import { RuleService } from './rule.service';
import { PollingLoop } from './polling-loop';

const LAG_EPISODE = 'lag_episode';

export interface TickResult {
  /** Entries evaluated (the cursor moved by this much). */
  readonly processed: number;
  readonly alerts: number;
  /** Set when the log contradicted itself; the cursor then stays put (fail closed). */
  readonly inconsistent?: string;
}

/**
 * The server-side monitor (docs/monitoring.md): evaluates the rules on every committed entry, in
 * log order, from a cursor stored in the database.
 *
 * Only committed data is read: entries below the latest checkpoint's size (the sequencer stores
 * entries and the checkpoint covering them in one transaction). Each batch ends with ONE
 * transaction that advances the cursor (compare-and-set), writes the identity index, the alerts
 * (primary key = stable event id, insert-or-ignore) and their outbox rows; so a crash or restart
 * re-evaluates an uncommitted batch and never skips or repeats an alert.
 *
 * The log is checked on the way, from the same database: every new checkpoint must verify under
 * the log key and be consistent with the last one verified, every entry's body must hash to its
 * stored leaf hash, and the root rebuilt from all leaves (compact range kept in the cursor) must
 * equal the checkpoint's. Any failure raises `log.inconsistent` and stops the cursor.
 */
@Injectable()
export class EvaluatorService {
  private readonly logger = new Logger('MonitorEvaluator');
  private readonly now: () => number;
  private readonly loop = new PollingLoop(
    async () => (await this.tick()).processed > 0,
    () => this.config.pollMs,
    (e) => this.logger.error(`evaluation pass failed: ${(e as Error)?.stack ?? String(e)}`),
  );
  private inconsistent: string | undefined;

  constructor(
    private readonly state: MonitorStateRepository,
    private readonly identityIndex: IdentityIndexRepository,
    private readonly rules: RuleService,
    private readonly reader: LogReader,
    private readonly log: LogIdentity,
    private readonly db: VellumDatabase,
    private readonly alerts: AlertWriter,
    @Inject(MONITOR_CONFIG) private readonly config: MonitorConfig,
    @Inject(MONITOR_OPTIONS) private readonly options: MonitorOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Why the evaluator stopped, if the log was found inconsistent. */
  get halted(): string | undefined {
    return this.inconsistent;
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Evaluates until the cursor reaches the latest checkpoint (tests and backfill helpers). */
  async runUntilIdle(): Promise<{ processed: number; alerts: number }> {
    let processed = 0;
    let alerts = 0;
    for (;;) {
      const r = await this.tick();
      processed += r.processed;
      alerts += r.alerts;
      if (r.processed === 0) return { processed, alerts };
    }
  }

  /**
   * One batch: at most MONITOR_BATCH_SIZE entries, one LogFollower step over the database (the
   * follower proves it, the consumer evaluates it, the store commits it as the class comment says).
   */
  async tick(): Promise<TickResult> {
    if (this.inconsistent !== undefined) return { processed: 0, alerts: 0, inconsistent: this.inconsistent };
    await this.rules.ready;
    const rules = await this.rules.current();
    const source = new DbLeafSource(this.reader);
    try {
      await this.reader.latestCheckpoint();
    } catch (e) {
      if (isVellumError(e, 'UNAVAILABLE')) return { processed: 0, alerts: 0 };
      throw e;
    }
    const cursor = await this.state.getCursor();
    const now = this.now();
    let alerts: NewAlert[] = [];
    let keys: Array<[string, number]> = [];
    let inserted = 0;
    const follower = new LogFollower<StoredEntry>({
      source,
      batchSize: this.config.batchSize,
      verifyNote: (note) => {
        const parsed = verifyRekorCheckpoint(note, this.log.publicKey, this.log.hostname);
        if (parsed.origin !== this.log.origin)
          throw new Error(`checkpoint origin ${JSON.stringify(parsed.origin)} is not ${this.log.origin}`);
        return parsed;
      },
      consumer: {
        accept: async (batch) => {
          const entries = batch.entries.map((e) => e.extra!);
          ({ alerts, keys } = await this.alerts.evaluate(entries, rules, now, source.latest!, 'live'));
        },
      },
      store: {
        save: async (position, batch) => {
          const cp = position.verified!.checkpoint;
          const added = await this.alerts.commit(
            alerts,
            now,
            async (tx) => {
              const moved = await this.state.advanceCursor(
                tx,
                cursor,
                {
                  nextIndex: position.range.size,
                  checkpointSize: cp.size,
                  checkpointRoot: cp.rootHash,
                  checkpointNote: position.verified!.note,
                  compactRange: position.range.toHex(),
                },
                now,
              );
              if (moved) await this.identityIndex.insertKeys(tx, keys);
              return moved;
            },
            () => this.options.beforeCommit?.({ fromIndex: batch.from, toIndex: batch.to }),
          );
          inserted += added ?? 0;
          return added !== undefined;
        },
      },
    });
    const position: FollowerPosition = {
      verified:
        cursor.checkpointNote === undefined || cursor.checkpointRoot === undefined
          ? undefined
          : {
              checkpoint: {
                origin: this.log.origin,
                size: cursor.checkpointSize,
                rootHash: cursor.checkpointRoot,
                extensions: [],
              },
              note: cursor.checkpointNote,
            },
      range: CompactRange.fromHex(cursor.nextIndex, cursor.compactRange),
    };
    let step;
    try {
      step = await follower.step(position, { maxEntries: this.config.batchSize });
    } catch (e) {
      if (isVellumError(e, 'INCONSISTENT_LOG'))
        return this.raiseInconsistent(cursor, source.latest!, e.message, now);
      throw e;
    }
    const lagAlerts = await this.checkLag(cursor, source.latest!, now);
    if (step.status === 'superseded') {
      this.logger.warn('another monitor process advanced the cursor; re-reading it');
      return { processed: 0, alerts: lagAlerts };
    }
    return { processed: step.delivered, alerts: inserted + lagAlerts };
  }

  private async raiseInconsistent(
    cursor: Cursor,
    cp: SignedCheckpoint,
    reason: string,
    now: number,
  ): Promise<TickResult> {
    this.inconsistent = reason;
    this.logger.error(`log.inconsistent: ${reason}; the monitor cursor stays at ${cursor.nextIndex}`);
    const previous = cursor.checkpointNote !== undefined ? { previousCheckpoint: cursor.checkpointNote } : {};
    const ev = logEvent('log.inconsistent', this.log.origin, cp.size, now, {
      logOrigin: this.log.origin,
      reason,
      checkpoint: cp.note,
      ...previous,
      cursor: cursor.nextIndex,
    });
    const inserted = await this.alerts.commit(
      [
        logAlert(ev, {
          severity: 'critical',
          summary: `log.inconsistent at ${this.log.origin} size ${cp.size}: ${reason}`,
          reasons: [{ code: 'log-inconsistent', message: reason }],
          evidence: { checkpoint: cp.note, ...previous },
        }),
      ],
      now,
    );
    return { processed: 0, alerts: inserted ?? 0, inconsistent: reason };
  }

  /** monitor.lagging once per episode (cursor more than N entries or T seconds behind). */
  private async checkLag(cursor: Cursor, cp: SignedCheckpoint, now: number): Promise<number> {
    const behind = cp.size - cursor.nextIndex;
    const ageSeconds = (behind > 0 ? await this.ageSeconds(cursor, now) : 0) ?? 0;
    const lagging = behind > this.config.lagEntries || ageSeconds > this.config.lagSeconds;
    const episode = await this.state.getState(LAG_EPISODE);
    if (!lagging) {
      if (episode !== undefined) {
        await this.db.transaction((tx) => this.state.setState(tx, LAG_EPISODE, undefined));
        this.logger.log(`monitor caught up (was lagging since index ${episode})`);
      }
      return 0;
    }
    if (episode !== undefined) return 0;
    const reason = `the monitor is ${behind} entries and ${ageSeconds} s behind the log (limits: ${this.config.lagEntries} entries, ${this.config.lagSeconds} s)`;
    this.logger.warn(`monitor.lagging: ${reason}`);
    const ev = logEvent('monitor.lagging', this.log.origin, cursor.nextIndex, now, {
      logOrigin: this.log.origin,
      cursor: cursor.nextIndex,
      treeSize: cp.size,
      lagEntries: behind,
      lagSeconds: ageSeconds,
      reason,
    });
    const inserted = await this.alerts.commit(
      [
        logAlert(ev, {
          severity: 'medium',
          summary: `monitor.lagging at ${this.log.origin}: ${reason}`,
          reasons: [{ code: 'lagging', message: reason }],
          evidence: {
            checkpoint: cp.note,
            cursor: cursor.nextIndex,
            lagEntries: behind,
            lagSeconds: ageSeconds,
          },
        }),
      ],
      now,
      async (tx) => {
        await this.state.setState(tx, LAG_EPISODE, String(cursor.nextIndex));
        return true;
      },
    );
    return inserted ? 1 : 0;
  }

  /** How long the oldest entry not evaluated yet has waited (undefined if it cannot be read). */
  private async ageSeconds(cursor: Cursor, now: number): Promise<number | undefined> {
    const next = await this.reader.getByIndex(cursor.nextIndex);
    return next === null ? undefined : Math.max(0, Math.floor(now / 1000) - next.integratedTime);
  }

  /** Cursor and lag, for the status endpoint and metrics. */
  async status(): Promise<{
    cursor: number;
    checkpointSize: number;
    treeSize?: number;
    lagEntries?: number;
    lagSeconds?: number;
    halted?: string;
  }> {
    const cursor = await this.state.getCursor();
    let treeSize: number | undefined;
    let lagSeconds: number | undefined;
    try {
      treeSize = (await this.reader.latestCheckpoint()).size;
      lagSeconds = treeSize > cursor.nextIndex ? await this.ageSeconds(cursor, this.now()) : 0;
    } catch {
      treeSize = undefined;
    }
    return {
      cursor: cursor.nextIndex,
      checkpointSize: cursor.checkpointSize,
      ...(treeSize !== undefined ? { treeSize, lagEntries: Math.max(0, treeSize - cursor.nextIndex) } : {}),
      ...(lagSeconds !== undefined ? { lagSeconds } : {}),
      ...(this.inconsistent !== undefined ? { halted: this.inconsistent } : {}),
    };
  }
}
