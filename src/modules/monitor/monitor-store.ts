/**
 * The SQL of the monitor tables (see migrations/1765000000000-monitor-schema.ts). Reads go through
 * VellumDatabase.read (committed data); writes take a SqlTx so callers can group them with the
 * cursor advance in one transaction.
 */
import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { SqlTx } from '../storage/database';
import { VellumDatabase } from '../storage/database';
import { bytes, num, placeholders, valuesList } from '../storage/sql';
import type { AlertEvidence, MonitorEventType } from './monitor-events';

export type Row = Record<string, unknown>;

const optNum = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : num(v));
const optStr = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

export type RuleSource = 'api' | 'file';
export interface StoredRule {
  readonly name: string;
  readonly source: RuleSource;
  readonly document: unknown;
  readonly digest: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface Cursor {
  readonly nextIndex: number;
  readonly checkpointSize: number;
  readonly checkpointRoot: Buffer | undefined;
  readonly checkpointNote: string | undefined;
  /** Hex subtree roots of the leaves below nextIndex (see CompactRange). */
  readonly compactRange: readonly string[];
  readonly updatedAt: number;
}

export type AlertStatus = 'open' | 'acknowledged' | 'resolved' | 'recorded';
export const ALERT_STATUSES: readonly AlertStatus[] = ['open', 'acknowledged', 'resolved', 'recorded'];
export const RESOLUTIONS = ['expected', 'compromise', 'false_positive'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export interface NewAlert {
  readonly id: string;
  readonly type: MonitorEventType;
  /** '' for log-level events. */
  readonly ruleId: string;
  readonly ruleDigest?: string;
  readonly severity: string;
  readonly action: 'alert' | 'record';
  readonly expected: boolean;
  readonly entryIndex?: number;
  readonly leafHash?: string;
  readonly uuid?: string;
  readonly summary: string;
  readonly identity: unknown;
  readonly reasons: unknown;
  readonly evidence?: AlertEvidence | Record<string, unknown>;
  /** Exact webhook body bytes. */
  readonly payload: Buffer;
  readonly source: 'live' | 'backfill' | 'log';
  /** Rule's `notify` list (webhook:<name> restricts delivery to those endpoints). */
  readonly notify?: readonly string[];
}

export interface AlertRecord {
  readonly id: string;
  readonly type: string;
  readonly ruleId: string;
  readonly ruleDigest?: string;
  readonly severity: string;
  readonly action: string;
  readonly expected: boolean;
  readonly status: AlertStatus;
  readonly entryIndex?: number;
  readonly leafHash?: string;
  readonly uuid?: string;
  readonly summary: string;
  readonly identity: unknown;
  readonly reasons: unknown;
  readonly evidence?: unknown;
  readonly payload: Buffer;
  readonly source: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly acknowledgedAt?: number;
  readonly acknowledgedBy?: string;
  readonly resolvedAt?: number;
  readonly resolution?: string;
  readonly resolutionNote?: string;
}

export interface AlertFilter {
  readonly status?: AlertStatus;
  readonly rule?: string;
  readonly type?: string;
  readonly sinceMs?: number;
  readonly limit: number;
  readonly offset: number;
}

export interface ExpectationRecord {
  readonly id: string;
  readonly runInvocationUri?: string;
  readonly digest?: string;
  readonly ruleId?: string;
  readonly note?: string;
  readonly expiresAt?: number;
  readonly createdAt: number;
}

export interface WebhookRecord {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly eventTypes: readonly string[];
  readonly secret: string;
  readonly description?: string;
  readonly enabled: boolean;
  readonly disabledReason?: string;
  readonly disabledAt?: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface OutboxRow {
  readonly endpointId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly body: Buffer;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lockedUntil?: number;
  readonly lastStatus?: number;
  readonly lastError?: string;
  readonly createdAt: number;
  readonly deliveredAt?: number;
}

export interface BackfillRecord {
  readonly id: string;
  readonly ruleId: string;
  readonly fromIndex: number;
  readonly toIndex: number;
  /** Entries below this were indexed by the evaluator when the job started (index mode reads the index there). */
  readonly indexedTo: number;
  readonly mode: 'index' | 'scan';
  readonly status: 'queued' | 'running' | 'done' | 'failed';
  readonly nextIndex: number;
  readonly candidates?: number;
  readonly processed: number;
  readonly alerts: number;
  readonly error?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt?: number;
}

function alertFromRow(r: Row): AlertRecord {
  return {
    id: String(r.id),
    type: String(r.type),
    ruleId: String(r.rule_id),
    ruleDigest: optStr(r.rule_digest),
    severity: String(r.severity),
    action: String(r.action),
    expected: num(r.expected) === 1,
    status: String(r.status) as AlertStatus,
    entryIndex: optNum(r.entry_index),
    leafHash: optStr(r.leaf_hash),
    uuid: optStr(r.uuid),
    summary: String(r.summary),
    identity: JSON.parse(String(r.identity)),
    reasons: JSON.parse(String(r.reasons)),
    evidence: r.evidence === null || r.evidence === undefined ? undefined : JSON.parse(String(r.evidence)),
    payload: bytes(r.payload),
    source: String(r.source),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    acknowledgedAt: optNum(r.acknowledged_at),
    acknowledgedBy: optStr(r.acknowledged_by),
    resolvedAt: optNum(r.resolved_at),
    resolution: optStr(r.resolution),
    resolutionNote: optStr(r.resolution_note),
  };
}

function webhookFromRow(r: Row): WebhookRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    url: String(r.url),
    eventTypes: JSON.parse(String(r.event_types)) as string[],
    secret: String(r.secret),
    description: optStr(r.description),
    enabled: num(r.enabled) === 1,
    disabledReason: optStr(r.disabled_reason),
    disabledAt: optNum(r.disabled_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function outboxFromRow(r: Row): OutboxRow {
  return {
    endpointId: String(r.endpoint_id),
    eventId: String(r.event_id),
    eventType: String(r.event_type),
    body: bytes(r.body),
    status: String(r.status) as OutboxRow['status'],
    attempts: num(r.attempts),
    nextAttemptAt: num(r.next_attempt_at),
    lockedUntil: optNum(r.locked_until),
    lastStatus: optNum(r.last_status),
    lastError: optStr(r.last_error),
    createdAt: num(r.created_at),
    deliveredAt: optNum(r.delivered_at),
  };
}

function backfillFromRow(r: Row): BackfillRecord {
  return {
    id: String(r.id),
    ruleId: String(r.rule_id),
    fromIndex: num(r.from_index),
    toIndex: num(r.to_index),
    indexedTo: num(r.indexed_to),
    mode: String(r.mode) as BackfillRecord['mode'],
    status: String(r.status) as BackfillRecord['status'],
    nextIndex: num(r.next_index),
    candidates: optNum(r.candidates),
    processed: num(r.processed),
    alerts: num(r.alerts),
    error: optStr(r.error),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    finishedAt: optNum(r.finished_at),
  };
}

export type DeliveryRow = OutboxRow & { readonly endpoint: WebhookRecord };

const OUTBOX_WITH_ENDPOINT =
  'SELECT o.*, w.id AS w_id, w.name AS w_name, w.url AS w_url, w.event_types AS w_event_types, w.secret AS w_secret, ' +
  'w.description AS w_description, w.enabled AS w_enabled, w.disabled_reason AS w_disabled_reason, ' +
  'w.disabled_at AS w_disabled_at, w.created_at AS w_created_at, w.updated_at AS w_updated_at ' +
  'FROM monitor_outbox o JOIN monitor_webhooks w ON w.id = o.endpoint_id ';

function deliveryFromRow(r: Row): DeliveryRow {
  const w: Row = {};
  for (const [k, v] of Object.entries(r)) if (k.startsWith('w_')) w[k.slice(2)] = v;
  return { ...outboxFromRow(r), endpoint: webhookFromRow(w) };
}

/** Which endpoints get an event: subscribed to its type and, if the rule names webhooks, named. */
export function endpointsFor(
  type: string,
  notify: readonly string[] | undefined,
  endpoints: readonly WebhookRecord[],
): WebhookRecord[] {
  const named = (notify ?? []).filter((n) => n.startsWith('webhook:')).map((n) => n.slice('webhook:'.length));
  return endpoints.filter(
    (e) =>
      e.eventTypes.includes(type) && (named.length === 0 || named.includes(e.name) || named.includes(e.id)),
  );
}

const CURSOR = 'live';
const RULES_VERSION = 'rules_version';

@Injectable()
export class MonitorStore {
  constructor(readonly db: VellumDatabase) {}

  // -- state -----------------------------------------------------------------------------------

  async getState(key: string): Promise<string | undefined> {
    const rows = await this.db.read('SELECT value FROM monitor_state WHERE key = ?', [key]);
    return rows.length === 0 ? undefined : String(rows[0]!.value);
  }

  async setState(tx: SqlTx, key: string, value: string | undefined): Promise<void> {
    if (value === undefined) {
      await tx.execute('DELETE FROM monitor_state WHERE key = ?', [key]);
      return;
    }
    await tx.execute(
      'INSERT INTO monitor_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async rulesVersion(): Promise<number> {
    const v = await this.getState(RULES_VERSION);
    return v === undefined ? 0 : Number(v);
  }

  async bumpRulesVersion(tx: SqlTx): Promise<void> {
    const rows = await tx.query('SELECT value FROM monitor_state WHERE key = ?', [RULES_VERSION]);
    const v = rows.length === 0 ? 0 : Number(rows[0]!.value);
    await this.setState(tx, RULES_VERSION, String(v + 1));
  }

  // -- rules -----------------------------------------------------------------------------------

  async listRules(): Promise<StoredRule[]> {
    const rows = await this.db.read('SELECT * FROM monitor_rules ORDER BY name');
    return rows.map((r) => this.ruleFromRow(r));
  }

  async getRule(name: string): Promise<StoredRule | undefined> {
    const rows = await this.db.read('SELECT * FROM monitor_rules WHERE name = ?', [name]);
    return rows.length === 0 ? undefined : this.ruleFromRow(rows[0]!);
  }

  private ruleFromRow(r: Row): StoredRule {
    return {
      name: String(r.name),
      source: String(r.source) as RuleSource,
      document: JSON.parse(String(r.document)),
      digest: String(r.digest),
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    };
  }

  async txGetRule(tx: SqlTx, name: string): Promise<StoredRule | undefined> {
    const rows = await tx.query('SELECT * FROM monitor_rules WHERE name = ?', [name]);
    return rows.length === 0 ? undefined : this.ruleFromRow(rows[0]!);
  }

  async txListRules(tx: SqlTx): Promise<StoredRule[]> {
    const rows = await tx.query('SELECT * FROM monitor_rules ORDER BY name');
    return rows.map((r) => this.ruleFromRow(r));
  }

  async upsertRule(
    tx: SqlTx,
    name: string,
    source: RuleSource,
    document: unknown,
    digest: string,
    now: number,
  ): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_rules (name, source, document, digest, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT (name) DO UPDATE SET source = excluded.source, document = excluded.document, ' +
        'digest = excluded.digest, updated_at = excluded.updated_at',
      [name, source, JSON.stringify(document), digest, now, now],
    );
  }

  async deleteRule(tx: SqlTx, name: string): Promise<number> {
    return tx.execute('DELETE FROM monitor_rules WHERE name = ?', [name]);
  }

  // -- cursor ----------------------------------------------------------------------------------

  async getCursor(): Promise<Cursor> {
    const rows = await this.db.read('SELECT * FROM monitor_cursor WHERE name = ?', [CURSOR]);
    const r = rows[0];
    if (r === undefined)
      return {
        nextIndex: 0,
        checkpointSize: 0,
        checkpointRoot: undefined,
        checkpointNote: undefined,
        compactRange: [],
        updatedAt: 0,
      };
    return {
      nextIndex: num(r.next_index),
      checkpointSize: num(r.checkpoint_size),
      checkpointRoot:
        r.checkpoint_root === null || r.checkpoint_root === undefined ? undefined : bytes(r.checkpoint_root),
      checkpointNote: optStr(r.checkpoint_note),
      compactRange:
        r.compact_range === null || r.compact_range === undefined
          ? []
          : (JSON.parse(String(r.compact_range)) as string[]),
      updatedAt: num(r.updated_at),
    };
  }

  /**
   * Compare-and-set of the cursor: succeeds only if nobody moved it since `expected` was read
   * (two monitor processes never both commit the same batch). Returns false on a lost race.
   */
  async advanceCursor(
    tx: SqlTx,
    expected: Cursor,
    next: Omit<Cursor, 'updatedAt'>,
    now: number,
  ): Promise<boolean> {
    await tx.execute(
      'INSERT INTO monitor_cursor (name, next_index, checkpoint_size, checkpoint_root, checkpoint_note, updated_at) ' +
        'VALUES (?, 0, 0, NULL, NULL, ?) ON CONFLICT (name) DO NOTHING',
      [CURSOR, now],
    );
    const n = await tx.execute(
      'UPDATE monitor_cursor SET next_index = ?, checkpoint_size = ?, checkpoint_root = ?, checkpoint_note = ?, compact_range = ?, updated_at = ? ' +
        'WHERE name = ? AND next_index = ? AND checkpoint_size = ?',
      [
        next.nextIndex,
        next.checkpointSize,
        next.checkpointRoot ?? null,
        next.checkpointNote ?? null,
        JSON.stringify(next.compactRange),
        now,
        CURSOR,
        expected.nextIndex,
        expected.checkpointSize,
      ],
    );
    return n === 1;
  }

  // -- identity index --------------------------------------------------------------------------

  async insertIdentityKeys(tx: SqlTx, keys: ReadonlyArray<readonly [string, number]>): Promise<void> {
    const CHUNK = 2000;
    for (let i = 0; i < keys.length; i += CHUNK) {
      const part = keys.slice(i, i + CHUNK);
      await tx.execute(
        `INSERT INTO monitor_identity_keys (key, idx) VALUES ${valuesList(part.length, 2)} ON CONFLICT (key, idx) DO NOTHING`,
        part.flat(),
      );
    }
  }

  /** Entry indexes in [from, to) carrying any of `keys`, ascending, at most `limit`. */
  async indexCandidates(keys: readonly string[], from: number, to: number, limit: number): Promise<number[]> {
    if (keys.length === 0 || from >= to) return [];
    const rows = await this.db.read(
      `SELECT DISTINCT idx FROM monitor_identity_keys WHERE key IN (${placeholders(keys.length)}) AND idx >= ? AND idx < ? ORDER BY idx LIMIT ?`,
      [...keys, from, to, limit],
    );
    return rows.map((r) => num(r.idx));
  }

  async countCandidates(keys: readonly string[], from: number, to: number): Promise<number> {
    if (keys.length === 0 || from >= to) return 0;
    const rows = await this.db.read(
      `SELECT COUNT(DISTINCT idx) AS n FROM monitor_identity_keys WHERE key IN (${placeholders(keys.length)}) AND idx >= ? AND idx < ?`,
      [...keys, from, to],
    );
    return num(rows[0]!.n);
  }

  // -- alerts ----------------------------------------------------------------------------------

  /** Inserts the alert unless its id exists; true when inserted. Queues deliveries for a new deliverable alert. */
  async insertAlert(
    tx: SqlTx,
    a: NewAlert,
    now: number,
    endpoints: readonly WebhookRecord[],
  ): Promise<boolean> {
    const deliverable = a.action === 'alert' && !a.expected;
    const n = await tx.execute(
      'INSERT INTO monitor_alerts (id, type, rule_id, rule_digest, severity, action, expected, status, entry_index, ' +
        'leaf_hash, uuid, summary, identity, reasons, evidence, payload, source, created_at, updated_at) ' +
        `VALUES (${placeholders(19)}) ON CONFLICT (id) DO NOTHING`,
      [
        a.id,
        a.type,
        a.ruleId,
        a.ruleDigest ?? null,
        a.severity,
        a.action,
        a.expected ? 1 : 0,
        deliverable ? 'open' : 'recorded',
        a.entryIndex ?? null,
        a.leafHash ?? null,
        a.uuid ?? null,
        a.summary,
        JSON.stringify(a.identity ?? null),
        JSON.stringify(a.reasons ?? []),
        a.evidence === undefined ? null : JSON.stringify(a.evidence),
        a.payload,
        a.source,
        now,
        now,
      ],
    );
    if (n !== 1) return false;
    if (deliverable) {
      for (const e of endpointsFor(
        a.type,
        a.notify,
        endpoints.filter((x) => x.enabled),
      )) {
        await tx.execute(
          'INSERT INTO monitor_outbox (endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at, created_at) ' +
            "VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (endpoint_id, event_id) DO NOTHING",
          [e.id, a.id, a.type, a.payload, now, now],
        );
      }
    }
    return true;
  }

  async getAlert(id: string): Promise<AlertRecord | undefined> {
    const rows = await this.db.read('SELECT * FROM monitor_alerts WHERE id = ?', [id]);
    return rows.length === 0 ? undefined : alertFromRow(rows[0]!);
  }

  async listAlerts(f: AlertFilter): Promise<{ alerts: AlertRecord[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.status !== undefined) {
      where.push('status = ?');
      params.push(f.status);
    }
    if (f.rule !== undefined) {
      where.push('rule_id = ?');
      params.push(f.rule);
    }
    if (f.type !== undefined) {
      where.push('type = ?');
      params.push(f.type);
    }
    if (f.sinceMs !== undefined) {
      where.push('created_at >= ?');
      params.push(f.sinceMs);
    }
    const w = where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`;
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

  async auditLog(
    alertId: string,
  ): Promise<Array<{ action: string; actor?: string; detail?: unknown; at: number }>> {
    const rows = await this.db.read(
      'SELECT action, actor, detail, at FROM monitor_alert_audit WHERE alert_id = ? ORDER BY at, id',
      [alertId],
    );
    return rows.map((r) => ({
      action: String(r.action),
      actor: optStr(r.actor),
      detail: r.detail === null || r.detail === undefined ? undefined : JSON.parse(String(r.detail)),
      at: num(r.at),
    }));
  }

  // -- expectations ----------------------------------------------------------------------------

  private expectationFromRow(r: Row): ExpectationRecord {
    return {
      id: String(r.id),
      runInvocationUri: optStr(r.run_invocation_uri),
      digest: optStr(r.digest),
      ruleId: optStr(r.rule_id),
      note: optStr(r.note),
      expiresAt: optNum(r.expires_at),
      createdAt: num(r.created_at),
    };
  }

  async insertExpectation(tx: SqlTx, e: ExpectationRecord): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_expectations (id, run_invocation_uri, digest, rule_id, note, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [
        e.id,
        e.runInvocationUri ?? null,
        e.digest ?? null,
        e.ruleId ?? null,
        e.note ?? null,
        e.expiresAt ?? null,
        e.createdAt,
      ],
    );
  }

  async listExpectations(activeAt?: number): Promise<ExpectationRecord[]> {
    const rows =
      activeAt === undefined
        ? await this.db.read('SELECT * FROM monitor_expectations ORDER BY created_at, id')
        : await this.db.read(
            'SELECT * FROM monitor_expectations WHERE expires_at IS NULL OR expires_at >= ? ORDER BY created_at, id',
            [activeAt],
          );
    return rows.map((r) => this.expectationFromRow(r));
  }

  async getExpectation(id: string): Promise<ExpectationRecord | undefined> {
    const rows = await this.db.read('SELECT * FROM monitor_expectations WHERE id = ?', [id]);
    return rows.length === 0 ? undefined : this.expectationFromRow(rows[0]!);
  }

  // -- webhooks --------------------------------------------------------------------------------

  async listWebhooks(): Promise<WebhookRecord[]> {
    const rows = await this.db.read('SELECT * FROM monitor_webhooks ORDER BY created_at, id');
    return rows.map(webhookFromRow);
  }

  async txListWebhooks(tx: SqlTx): Promise<WebhookRecord[]> {
    const rows = await tx.query('SELECT * FROM monitor_webhooks ORDER BY created_at, id');
    return rows.map(webhookFromRow);
  }

  async getWebhook(id: string): Promise<WebhookRecord | undefined> {
    const rows = await this.db.read('SELECT * FROM monitor_webhooks WHERE id = ? OR name = ?', [id, id]);
    return rows.length === 0 ? undefined : webhookFromRow(rows[0]!);
  }

  async insertWebhook(tx: SqlTx, w: WebhookRecord): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_webhooks (id, name, url, event_types, secret, description, enabled, created_at, updated_at) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [
        w.id,
        w.name,
        w.url,
        JSON.stringify(w.eventTypes),
        w.secret,
        w.description ?? null,
        w.enabled ? 1 : 0,
        w.createdAt,
        w.updatedAt,
      ],
    );
  }

  async setWebhookEnabled(
    tx: SqlTx,
    id: string,
    enabled: boolean,
    reason: string | undefined,
    now: number,
  ): Promise<number> {
    return tx.execute(
      'UPDATE monitor_webhooks SET enabled = ?, disabled_reason = ?, disabled_at = ?, updated_at = ? WHERE id = ?',
      [enabled ? 1 : 0, enabled ? null : (reason ?? null), enabled ? null : now, now, id],
    );
  }

  async deleteWebhook(tx: SqlTx, id: string): Promise<number> {
    await tx.execute('DELETE FROM monitor_outbox WHERE endpoint_id = ?', [id]);
    return tx.execute('DELETE FROM monitor_webhooks WHERE id = ?', [id]);
  }

  // -- outbox ----------------------------------------------------------------------------------

  async dueDeliveries(now: number, limit: number): Promise<DeliveryRow[]> {
    const rows = await this.db.read(
      OUTBOX_WITH_ENDPOINT +
        "WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND (o.locked_until IS NULL OR o.locked_until < ?) AND w.enabled = 1 " +
        'ORDER BY o.next_attempt_at, o.created_at LIMIT ?',
      [now, now, limit],
    );
    return rows.map(deliveryFromRow);
  }

  /** One outbox row with its endpoint, whatever its state. */
  async getDelivery(endpointId: string, eventId: string): Promise<DeliveryRow | undefined> {
    const rows = await this.db.read(OUTBOX_WITH_ENDPOINT + 'WHERE o.endpoint_id = ? AND o.event_id = ?', [
      endpointId,
      eventId,
    ]);
    return rows.length === 0 ? undefined : deliveryFromRow(rows[0]!);
  }

  /** Claims a due delivery for `leaseMs` (compare-and-set on attempts); false if another worker has it. */
  async claimDelivery(row: OutboxRow, now: number, leaseMs: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const n = await tx.execute(
        'UPDATE monitor_outbox SET locked_until = ? WHERE endpoint_id = ? AND event_id = ? AND attempts = ? ' +
          "AND status = 'pending' AND (locked_until IS NULL OR locked_until < ?)",
        [now + leaseMs, row.endpointId, row.eventId, row.attempts, now],
      );
      return n === 1;
    });
  }

  async recordAttempt(
    tx: SqlTx,
    row: OutboxRow,
    attempt: { at: number; status?: number; outcome: string; error?: string; durationMs: number },
  ): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_delivery_attempts (endpoint_id, event_id, attempt, at, status, outcome, error, duration_ms) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint_id, event_id, attempt) DO NOTHING',
      [
        row.endpointId,
        row.eventId,
        row.attempts + 1,
        attempt.at,
        attempt.status ?? null,
        attempt.outcome,
        attempt.error ?? null,
        Math.round(attempt.durationMs),
      ],
    );
  }

  async finishDelivery(
    tx: SqlTx,
    row: OutboxRow,
    update: {
      status: OutboxRow['status'];
      nextAttemptAt: number;
      lastStatus?: number;
      lastError?: string;
      deliveredAt?: number;
    },
  ): Promise<void> {
    await tx.execute(
      'UPDATE monitor_outbox SET status = ?, attempts = ?, next_attempt_at = ?, locked_until = NULL, last_status = ?, ' +
        'last_error = ?, delivered_at = ? WHERE endpoint_id = ? AND event_id = ?',
      [
        update.status,
        row.attempts + 1,
        update.nextAttemptAt,
        update.lastStatus ?? null,
        update.lastError ?? null,
        update.deliveredAt ?? null,
        row.endpointId,
        row.eventId,
      ],
    );
  }

  async deliveriesForEvent(eventId: string): Promise<OutboxRow[]> {
    const rows = await this.db.read('SELECT * FROM monitor_outbox WHERE event_id = ? ORDER BY endpoint_id', [
      eventId,
    ]);
    return rows.map(outboxFromRow);
  }

  async attemptsFor(endpointId: string, eventId?: string, limit = 100): Promise<Row[]> {
    return eventId === undefined
      ? this.db.read(
          'SELECT event_id, attempt, at, status, outcome, error, duration_ms FROM monitor_delivery_attempts WHERE endpoint_id = ? ORDER BY at DESC LIMIT ?',
          [endpointId, limit],
        )
      : this.db.read(
          'SELECT event_id, attempt, at, status, outcome, error, duration_ms FROM monitor_delivery_attempts WHERE endpoint_id = ? AND event_id = ? ORDER BY attempt',
          [endpointId, eventId],
        );
  }

  async outboxStats(endpointId?: string): Promise<Record<string, number>> {
    const rows =
      endpointId === undefined
        ? await this.db.read('SELECT status, COUNT(*) AS n FROM monitor_outbox GROUP BY status')
        : await this.db.read(
            'SELECT status, COUNT(*) AS n FROM monitor_outbox WHERE endpoint_id = ? GROUP BY status',
            [endpointId],
          );
    const out: Record<string, number> = { pending: 0, delivered: 0, failed: 0 };
    for (const r of rows) out[String(r.status)] = num(r.n);
    return out;
  }

  // -- backfills -------------------------------------------------------------------------------

  async insertBackfill(tx: SqlTx, b: BackfillRecord): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_backfills (id, rule_id, from_index, to_index, indexed_to, mode, status, next_index, candidates, processed, alerts, error, created_at, updated_at) ' +
        `VALUES (${placeholders(14)})`,
      [
        b.id,
        b.ruleId,
        b.fromIndex,
        b.toIndex,
        b.indexedTo,
        b.mode,
        b.status,
        b.nextIndex,
        b.candidates ?? null,
        b.processed,
        b.alerts,
        b.error ?? null,
        b.createdAt,
        b.updatedAt,
      ],
    );
  }

  async getBackfill(id: string): Promise<BackfillRecord | undefined> {
    const rows = await this.db.read('SELECT * FROM monitor_backfills WHERE id = ?', [id]);
    return rows.length === 0 ? undefined : backfillFromRow(rows[0]!);
  }

  async listBackfills(limit = 100): Promise<BackfillRecord[]> {
    const rows = await this.db.read('SELECT * FROM monitor_backfills ORDER BY created_at DESC, id LIMIT ?', [
      limit,
    ]);
    return rows.map(backfillFromRow);
  }

  async nextBackfill(): Promise<BackfillRecord | undefined> {
    const rows = await this.db.read(
      "SELECT * FROM monitor_backfills WHERE status IN ('queued', 'running') ORDER BY created_at, id LIMIT 1",
    );
    return rows.length === 0 ? undefined : backfillFromRow(rows[0]!);
  }

  async updateBackfill(
    tx: SqlTx,
    id: string,
    u: {
      status: BackfillRecord['status'];
      nextIndex: number;
      processedDelta: number;
      alertsDelta: number;
      candidates?: number;
      error?: string;
      now: number;
      finished?: boolean;
    },
    expectedNext: number,
  ): Promise<boolean> {
    const n = await tx.execute(
      'UPDATE monitor_backfills SET status = ?, next_index = ?, processed = processed + ?, alerts = alerts + ?, ' +
        'candidates = COALESCE(?, candidates), error = ?, updated_at = ?, finished_at = ? WHERE id = ? AND next_index = ?',
      [
        u.status,
        u.nextIndex,
        u.processedDelta,
        u.alertsDelta,
        u.candidates ?? null,
        u.error ?? null,
        u.now,
        u.finished ? u.now : null,
        id,
        expectedNext,
      ],
    );
    return n === 1;
  }
}
