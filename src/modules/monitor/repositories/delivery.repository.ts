/**
 * The webhook outbox (monitor_outbox: one row per endpoint and event, the source of truth for
 * what was sent) and monitor_delivery_attempts (one row per HTTP attempt).
 */
import { Injectable } from '@nestjs/common';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { num } from '../../storage/sql';
import { blob, fromRow, int, opt, str, type RecordOf, type Row } from './columns';
import { webhookFromRow, type WebhookRecord } from './webhook.repository';

const OUTBOX = {
  endpointId: str(),
  eventId: str(),
  eventType: str(),
  body: blob,
  status: str<'pending' | 'delivered' | 'failed'>(),
  attempts: int,
  nextAttemptAt: int,
  lockedUntil: opt(int),
  lastStatus: opt(int),
  lastError: opt(str()),
  createdAt: int,
  deliveredAt: opt(int),
};
export type OutboxRow = RecordOf<typeof OUTBOX>;

export type DeliveryRow = OutboxRow & { readonly endpoint: WebhookRecord };

export interface DeliveryAttempt {
  readonly at: number;
  readonly status?: number;
  readonly outcome: string;
  readonly error?: string;
  readonly durationMs: number;
}

export interface DeliveryUpdate {
  readonly status: OutboxRow['status'];
  readonly nextAttemptAt: number;
  readonly lastStatus?: number;
  readonly lastError?: string;
  readonly deliveredAt?: number;
}

const outboxFromRow = (r: Row): OutboxRow => fromRow(OUTBOX, r);

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

@Injectable()
export class DeliveryRepository {
  constructor(private readonly db: VellumDatabase) {}

  /** Queues `body` for `endpointId`, due now; a row that exists for the pair stays as it is. */
  async enqueue(
    tx: SqlTx,
    endpointId: string,
    event: { id: string; type: string; body: Buffer },
    now: number,
  ): Promise<void> {
    await tx.execute(
      'INSERT INTO monitor_outbox (endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at, created_at) ' +
        "VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (endpoint_id, event_id) DO NOTHING",
      [endpointId, event.id, event.type, event.body, now, now],
    );
  }

  /** Pending rows of enabled endpoints that are due and not leased, oldest due first. */
  async due(now: number, limit: number): Promise<DeliveryRow[]> {
    const rows = await this.db.read(
      OUTBOX_WITH_ENDPOINT +
        "WHERE o.status = 'pending' AND o.next_attempt_at <= ? AND (o.locked_until IS NULL OR o.locked_until < ?) AND w.enabled = 1 " +
        'ORDER BY o.next_attempt_at, o.created_at LIMIT ?',
      [now, now, limit],
    );
    return rows.map(deliveryFromRow);
  }

  /** One outbox row with its endpoint, whatever its state. */
  async get(endpointId: string, eventId: string): Promise<DeliveryRow | undefined> {
    const rows = await this.db.read(OUTBOX_WITH_ENDPOINT + 'WHERE o.endpoint_id = ? AND o.event_id = ?', [
      endpointId,
      eventId,
    ]);
    return rows.length === 0 ? undefined : deliveryFromRow(rows[0]!);
  }

  /**
   * Claims a due delivery for `leaseMs` (compare-and-set on attempts); false if another worker
   * has it. Its own transaction: the lease must be visible to other processes before the HTTP
   * attempt starts.
   */
  async claim(row: OutboxRow, now: number, leaseMs: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const n = await tx.execute(
        'UPDATE monitor_outbox SET locked_until = ? WHERE endpoint_id = ? AND event_id = ? AND attempts = ? ' +
          "AND status = 'pending' AND (locked_until IS NULL OR locked_until < ?)",
        [now + leaseMs, row.endpointId, row.eventId, row.attempts, now],
      );
      return n === 1;
    });
  }

  /** Records attempt `row.attempts + 1`; recording the same attempt twice keeps the first. */
  async recordAttempt(tx: SqlTx, row: OutboxRow, attempt: DeliveryAttempt): Promise<void> {
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

  /** Ends the attempt `row.attempts + 1`: counts it, releases the lease, sets the next state. */
  async finish(tx: SqlTx, row: OutboxRow, update: DeliveryUpdate): Promise<void> {
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

  /** Stops the pending deliveries of one event (its alert was triaged); returns how many. */
  async failPending(tx: SqlTx, eventId: string, reason: string): Promise<number> {
    return tx.execute(
      "UPDATE monitor_outbox SET status = 'failed', last_error = ? WHERE event_id = ? AND status = 'pending'",
      [reason, eventId],
    );
  }

  async deleteForEndpoint(tx: SqlTx, endpointId: string): Promise<number> {
    return tx.execute('DELETE FROM monitor_outbox WHERE endpoint_id = ?', [endpointId]);
  }

  async forEvent(eventId: string): Promise<OutboxRow[]> {
    const rows = await this.db.read('SELECT * FROM monitor_outbox WHERE event_id = ? ORDER BY endpoint_id', [
      eventId,
    ]);
    return rows.map(outboxFromRow);
  }

  /** Attempts to one endpoint: of one event in order, or the latest `limit` of all. */
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

  /** Row counts per status, of one endpoint or all. */
  async stats(endpointId?: string): Promise<Record<string, number>> {
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
}
