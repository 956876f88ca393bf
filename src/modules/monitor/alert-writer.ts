import { Injectable } from '@nestjs/common';
import type { IdentityRule } from '../../core/monitor';
import { LogReader } from '../log/log-reader.service';
import type { SignedCheckpoint, StoredEntry } from '../log/log.types';
import { LogIdentity } from '../identity/log-identity';
import type { SqlTx } from '../storage/database';
import { VellumDatabase } from '../storage/database';
import { alertsForEntry, toCoreExpectations } from './alert-builder';
import { DeliveryService } from './delivery.service';
import { monitorIndexKeys, safeExtract, type SerializedEvent } from './monitor-events';
import { AlertRepository, type NewAlert } from './repositories/alert.repository';
import { ExpectationRepository } from './repositories/expectation.repository';
import { WebhookRepository, type WebhookRecord } from './repositories/webhook.repository';

export interface EvaluatedEntries {
  readonly alerts: NewAlert[];
  /** Identity-index keys of every entry, rules or not. */
  readonly keys: Array<[string, number]>;
}

/** The fields of a log-level alert its raiser decides; the rest follow from the event. */
export interface LogAlert {
  readonly severity: string;
  readonly summary: string;
  readonly reasons: unknown;
  readonly evidence: Record<string, unknown>;
}

/**
 * The one path from committed entries to stored alerts, shared by the live evaluator and
 * backfills: both evaluate the same way and insert by stable event id, so an entry seen by both
 * (or twice after a crash) yields one alert and one set of outbox rows.
 */
@Injectable()
export class AlertWriter {
  constructor(
    private readonly alerts: AlertRepository,
    private readonly expectations: ExpectationRepository,
    private readonly webhooks: WebhookRepository,
    private readonly reader: LogReader,
    private readonly log: LogIdentity,
    private readonly db: VellumDatabase,
    private readonly delivery: DeliveryService,
  ) {}

  /** Evaluates `rules` on entries proved in `cp`, with the expectations active at `now`. */
  async evaluate(
    entries: readonly StoredEntry[],
    rules: readonly IdentityRule[],
    now: number,
    cp: SignedCheckpoint,
    source: 'live' | 'backfill',
  ): Promise<EvaluatedEntries> {
    const expectations = rules.length === 0 ? [] : toCoreExpectations(await this.expectations.list(now));
    const alerts: NewAlert[] = [];
    const keys: Array<[string, number]> = [];
    for (const entry of entries) {
      const identity = safeExtract(entry.body, entry.kind, entry.apiVersion);
      for (const k of monitorIndexKeys(identity)) keys.push([k, entry.index]);
      if (rules.length === 0) continue;
      const res = await alertsForEntry(
        entry,
        identity,
        rules,
        expectations,
        now,
        cp,
        this.reader,
        this.log,
        source,
      );
      alerts.push(...res.alerts);
    }
    return { alerts, keys };
  }

  /** Read before the transaction that inserts: which endpoints get outbox rows. */
  endpoints(): Promise<WebhookRecord[]> {
    return this.webhooks.list();
  }

  /** Inserts in `tx`; returns how many were new (a stored id is skipped, not repeated). */
  async insertAll(
    tx: SqlTx,
    alerts: readonly NewAlert[],
    now: number,
    endpoints: readonly WebhookRecord[],
  ): Promise<number> {
    let inserted = 0;
    for (const a of alerts) if (await this.alerts.insert(tx, a, now, endpoints)) inserted++;
    return inserted;
  }

  /** After a commit that inserted alerts: their outbox rows are due. */
  kick(): void {
    this.delivery.kick();
  }

  /**
   * A log-level event (`log.inconsistent`, `monitor.lagging`) as an alert, in one transaction
   * with `alsoInTx` (so a state change and its alert commit together). True when it was new.
   */
  async raiseLogEvent(
    ev: SerializedEvent,
    fields: LogAlert,
    now: number,
    alsoInTx?: (tx: SqlTx) => Promise<void>,
  ): Promise<boolean> {
    const endpoints = await this.webhooks.list();
    const alert: NewAlert = {
      id: ev.id,
      type: ev.type,
      ruleId: '',
      action: 'alert',
      expected: false,
      identity: null,
      payload: ev.body,
      source: 'log',
      ...fields,
    };
    const inserted = await this.db.transaction(async (tx) => {
      await alsoInTx?.(tx);
      return this.alerts.insert(tx, alert, now, endpoints);
    });
    if (inserted) this.delivery.kick();
    return inserted;
  }
}
