/** monitor_webhooks: the endpoints alerts are delivered to, with their signing secrets. */
import { Injectable } from '@nestjs/common';
import type { SqlTx } from '../../storage/database';
import { VellumDatabase } from '../../storage/database';
import { bool, fromRow, insertRow, int, json, opt, str, type RecordOf, type Row } from './columns';

const WEBHOOK = {
  id: str(),
  name: str(),
  url: str(),
  eventTypes: json<string[]>(),
  secret: str(),
  description: opt(str()),
  enabled: bool,
  disabledReason: opt(str()),
  disabledAt: opt(int),
  createdAt: int,
  updatedAt: int,
};
export type WebhookRecord = RecordOf<typeof WEBHOOK>;

export const webhookFromRow = (r: Row): WebhookRecord => fromRow(WEBHOOK, r);

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

@Injectable()
export class WebhookRepository {
  constructor(private readonly db: VellumDatabase) {}

  async list(): Promise<WebhookRecord[]> {
    const rows = await this.db.read('SELECT * FROM monitor_webhooks ORDER BY created_at, id');
    return rows.map(webhookFromRow);
  }

  /** By id or by name. */
  async get(idOrName: string): Promise<WebhookRecord | undefined> {
    const rows = await this.db.read('SELECT * FROM monitor_webhooks WHERE id = ? OR name = ?', [
      idOrName,
      idOrName,
    ]);
    return rows.length === 0 ? undefined : webhookFromRow(rows[0]!);
  }

  /** Whether a webhook has this name, as the transaction sees it (names are unique). */
  async txNameTaken(tx: SqlTx, name: string): Promise<boolean> {
    const rows = await tx.query('SELECT id FROM monitor_webhooks WHERE name = ?', [name]);
    return rows.length > 0;
  }

  async insert(tx: SqlTx, w: WebhookRecord): Promise<void> {
    await tx.execute(...insertRow('monitor_webhooks', WEBHOOK, w));
  }

  async setEnabled(
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

  /** Deletes the endpoint row only; its outbox rows go with DeliveryRepository.deleteForEndpoint in the same transaction. */
  async delete(tx: SqlTx, id: string): Promise<number> {
    return tx.execute('DELETE FROM monitor_webhooks WHERE id = ?', [id]);
  }
}
