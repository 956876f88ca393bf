/** monitor_alerts and their audit trail (monitor_alert_audit). */
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { num } from '../../storage/sql';
import type { AlertEvidence, MonitorEventType } from '../monitor-events';
import { blob, bool, fromRow, insertRow, int, json, opt, str, type RecordOf, type Row } from './columns';
import { DeliveryRepository } from './delivery.repository';
import { endpointsFor, type WebhookRecord } from './webhook.repository';

export type AlertStatus = 'open' | 'acknowledged' | 'resolved' | 'recorded';
export const ALERT_STATUSES: readonly AlertStatus[] = ['open', 'acknowledged', 'resolved', 'recorded'];
export const RESOLUTIONS = ['expected', 'compromise', 'false_positive'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

const ALERT = {
  id: str(),
  type: str<MonitorEventType>(),
  /** '' for log-level events. */
  ruleId: str(),
  ruleDigest: opt(str()),
  severity: str(),
  action: str<'alert' | 'record'>(),
  expected: bool,
  status: str<AlertStatus>(),
  entryIndex: opt(int),
  leafHash: opt(str()),
  uuid: opt(str()),
  summary: str(),
  identity: json(),
  reasons: json(),
  evidence: opt(json<AlertEvidence | Record<string, unknown>>()),
  /** Exact webhook body bytes. */
  payload: blob,
  source: str<'live' | 'backfill' | 'log'>(),
  createdAt: int,
  updatedAt: int,
  acknowledgedAt: opt(int),
  acknowledgedBy: opt(str()),
  resolvedAt: opt(int),
  resolution: opt(str()),
  resolutionNote: opt(str()),
};
export type AlertRecord = RecordOf<typeof ALERT>;

/** An alert as the evaluator hands it over: no triage state yet. */
export type NewAlert = Omit<
  AlertRecord,
  | 'status'
  | 'createdAt'
  | 'updatedAt'
  | 'acknowledgedAt'
  | 'acknowledgedBy'
  | 'resolvedAt'
  | 'resolution'
  | 'resolutionNote'
> & {
  /** Rule's `notify` list (webhook:<name> restricts delivery to those endpoints). */
  readonly notify?: readonly string[];
};

export interface AlertFilter {
  readonly status?: AlertStatus;
  readonly rule?: string;
  readonly type?: string;
  readonly sinceMs?: number;
  readonly limit: number;
  readonly offset: number;
}

const AUDIT = { action: str(), actor: opt(str()), detail: opt(json()), at: int };
export type AuditRecord = RecordOf<typeof AUDIT>;

const alertFromRow = (r: Row): AlertRecord => fromRow(ALERT, r);

@Injectable()
export class AlertRepository {
  constructor(
    private readonly db: VellumDatabase,
    private readonly deliveries: DeliveryRepository,
  ) {}

  /**
   * Inserts the alert unless its id exists; true when inserted. A new deliverable alert queues
   * one outbox row per matching enabled endpoint in the same transaction, so an alert that is
   * committed is always delivered, and a replayed batch (same ids) queues nothing twice.
   */
  async insert(tx: SqlTx, a: NewAlert, now: number, endpoints: readonly WebhookRecord[]): Promise<boolean> {
    const deliverable = a.action === 'alert' && !a.expected;
    const [sql, params] = insertRow('monitor_alerts', ALERT, {
      ...a,
      status: deliverable ? 'open' : 'recorded',
      identity: a.identity ?? null,
      reasons: a.reasons ?? [],
      createdAt: now,
      updatedAt: now,
    });
    const n = await tx.execute(`${sql} ON CONFLICT (id) DO NOTHING`, params);
    if (n !== 1) return false;
    if (deliverable) {
      const enabled = endpoints.filter((x) => x.enabled);
      for (const e of endpointsFor(a.type, a.notify, enabled))
        await this.deliveries.enqueue(tx, e.id, { id: a.id, type: a.type, body: a.payload }, now);
    }
    return true;
  }

  async get(id: string): Promise<AlertRecord | undefined> {
    const rows = await this.db.read('SELECT * FROM monitor_alerts WHERE id = ?', [id]);
    return rows.length === 0 ? undefined : alertFromRow(rows[0]!);
  }

  /** The alert's status as the transaction sees it, undefined if there is no such alert. */
  async txStatus(tx: SqlTx, id: string): Promise<AlertStatus | undefined> {
    const rows = await tx.query('SELECT status FROM monitor_alerts WHERE id = ?', [id]);
    return rows.length === 0 ? undefined : (String(rows[0]!.status) as AlertStatus);
  }

  async markAcknowledged(tx: SqlTx, id: string, actor: string | undefined, now: number): Promise<void> {
    await tx.execute(
      "UPDATE monitor_alerts SET status = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, updated_at = ? WHERE id = ?",
      [now, actor ?? null, now, id],
    );
  }

  async markResolved(
    tx: SqlTx,
    id: string,
    resolution: Resolution,
    note: string | undefined,
    now: number,
  ): Promise<void> {
    await tx.execute(
      "UPDATE monitor_alerts SET status = 'resolved', resolved_at = ?, resolution = ?, resolution_note = ?, updated_at = ? WHERE id = ?",
      [now, resolution, note ?? null, now, id],
    );
  }

  /** One page, newest first, and the number of alerts matching the filter. */
  async list(f: AlertFilter): Promise<{ alerts: AlertRecord[]; total: number }> {
    const given = (
      [
        ['status = ?', f.status],
        ['rule_id = ?', f.rule],
        ['type = ?', f.type],
        ['created_at >= ?', f.sinceMs],
      ] as const
    ).filter(([, v]) => v !== undefined);
    const params = given.map(([, v]) => v);
    const w = given.length === 0 ? '' : ` WHERE ${given.map(([c]) => c).join(' AND ')}`;
    const rows = await this.db.read(
      `SELECT * FROM monitor_alerts${w} ORDER BY created_at DESC, entry_index DESC, id LIMIT ? OFFSET ?`,
      [...params, f.limit, f.offset],
    );
    const total = await this.db.read(`SELECT COUNT(*) AS n FROM monitor_alerts${w}`, params);
    return { alerts: rows.map(alertFromRow), total: num(total[0]!.n) };
  }

  async audit(
    tx: SqlTx,
    alertId: string,
    action: string,
    actor: string | undefined,
    detail: unknown,
    now: number,
  ): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_alert_audit (id, alert_id, action, actor, detail, at) VALUES (?, ?, ?, ?, ?, ?)',
      [
        randomUUID(),
        alertId,
        action,
        actor ?? null,
        detail === undefined ? null : JSON.stringify(detail),
        now,
      ],
    );
  }

  async auditLog(alertId: string): Promise<AuditRecord[]> {
    const rows = await this.db.read(
      'SELECT action, actor, detail, at FROM monitor_alert_audit WHERE alert_id = ? ORDER BY at, id',
      [alertId],
    );
    return rows.map((r) => fromRow(AUDIT, r));
  }
}
