import { Injectable } from '@nestjs/common';
import { verifyInclusion } from '../../core/merkle/verify';
import {
  buildIdentityEvent,
  evaluate,
  identityIndexKeys,
  type EntryIdentity,
  type Expectation,
  type IdentityRule,
} from '../../core/monitor';
import { LogReader } from '../log/log-reader.service';
import type { SignedCheckpoint, StoredEntry } from '../log/log.types';
import { LogIdentity } from '../identity/log-identity';
import { VellumDatabase, type SqlTx } from '../storage/database';
import { DeliveryService } from './delivery.service';
import { safeExtract, type AlertEvidence, type SerializedEvent } from './monitor-events';
import { AlertRepository, type NewAlert } from './repositories/alert.repository';
import { ExpectationRepository, type ExpectationRecord } from './repositories/expectation.repository';
import { WebhookRepository } from './repositories/webhook.repository';

export interface EvaluatedEntries {
  readonly alerts: NewAlert[];
  /** Identity-index keys of every entry, rules or not. */
  readonly keys: Array<[string, number]>;
}

/** An alert about the log itself (`log.inconsistent`, `monitor.lagging`): no rule, no identity. */
export function logAlert(
  ev: SerializedEvent,
  fields: Pick<NewAlert, 'severity' | 'summary' | 'reasons' | 'evidence'>,
): NewAlert {
  return {
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
}

/** The core reads an absent field and an undefined one alike. */
function toCoreExpectations(list: readonly ExpectationRecord[]): Expectation[] {
  return list.map((e) => ({
    id: e.id,
    runInvocationUri: e.runInvocationUri,
    digest: e.digest,
    rule: e.ruleId,
    expiresAtMs: e.expiresAt,
  }));
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
      for (const k of identityIndexKeys(identity)) keys.push([k, entry.index]);
      if (rules.length > 0)
        alerts.push(...(await this.forEntry(entry, identity, rules, expectations, now, cp, source)));
    }
    return { alerts, keys };
  }

  /**
   * Stores `alerts` and their outbox rows in one transaction with the caller's own writes:
   * `before` may veto (false: another worker got there, nothing is written), `after` sees how
   * many alerts were new. Returns that number, or undefined when vetoed.
   */
  async commit(
    alerts: readonly NewAlert[],
    now: number,
    before: (tx: SqlTx) => Promise<boolean> = async () => true,
    after?: (tx: SqlTx, inserted: number) => unknown,
  ): Promise<number | undefined> {
    const endpoints = await this.webhooks.list();
    const inserted = await this.db.transaction(async (tx) => {
      if (!(await before(tx))) return undefined;
      let n = 0;
      for (const a of alerts) if (await this.alerts.insert(tx, a, now, endpoints)) n++;
      await after?.(tx, n);
      return n;
    });
    if (inserted !== undefined && inserted > 0) this.delivery.kick();
    return inserted;
  }

  private async evidenceFor(entry: StoredEntry, cp: SignedCheckpoint): Promise<AlertEvidence> {
    const { reader, log } = this;
    const proof = await reader.inclusionProof(entry.index, cp.size);
    // Never hand out evidence that does not verify: a failure here is the log contradicting itself.
    verifyInclusion(entry.leafHash, entry.index, cp.size, proof, cp.rootHash);
    return {
      logOrigin: log.origin,
      logId: log.logIdHex,
      logIndex: entry.index,
      uuid: log.entryId(entry.leafHash),
      leafHash: entry.leafHash.toString('hex'),
      body: entry.body.toString('base64'),
      integratedTime: entry.integratedTime,
      signedEntryTimestamp: entry.set.toString('base64'),
      checkpoint: cp.note,
      treeSize: cp.size,
      rootHash: cp.rootHash.toString('hex'),
      inclusionProof: proof.map((h) => h.toString('hex')),
    };
  }

  /** One entry's alert rows (evidence only when a rule has an outcome). */
  private async forEntry(
    entry: StoredEntry,
    identity: EntryIdentity,
    rules: readonly IdentityRule[],
    expectations: readonly Expectation[],
    nowMs: number,
    cp: SignedCheckpoint,
    source: 'live' | 'backfill',
  ): Promise<NewAlert[]> {
    const outcomes = evaluate(rules, identity, { expectations, nowMs });
    if (outcomes.length === 0) return [];
    const log = this.log;
    const evidence = await this.evidenceFor(entry, cp);
    const byId = new Map(rules.map((r) => [r.id, r]));
    return outcomes.map((o): NewAlert => {
      const built = buildIdentityEvent(
        o,
        identity,
        {
          logOrigin: log.origin,
          index: entry.index,
          leafHash: evidence.leafHash,
          uuid: evidence.uuid,
          integratedTime: entry.integratedTime,
          evidence,
        },
        nowMs,
      );
      return {
        id: built.id,
        type: o.eventType,
        ruleId: o.ruleId,
        ruleDigest: o.ruleDigest,
        severity: o.severity,
        action: o.action,
        expected: o.expected,
        entryIndex: entry.index,
        leafHash: evidence.leafHash,
        uuid: evidence.uuid,
        summary: built.event.data.summary,
        identity: built.event.data.signers,
        reasons: { reasons: o.reasons, expectationIds: o.expectationIds },
        evidence,
        payload: built.body,
        source,
        notify: byId.get(o.ruleId)?.notify ?? [],
      };
    });
  }
}
