import { Inject, Injectable, Optional } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { generateWebhookSecret } from '../../core/monitor';
import { VellumDatabase, type SqlTx } from '../storage/database';
import { DeliveryService } from './delivery.service';
import { badRequest, conflict, notFound } from './monitor-errors';
import { MONITOR_EVENT_TYPES, normalizeEventType, type MonitorEventType } from './monitor-events';
import { MONITOR_CONFIG, type MonitorConfig } from './monitor.config';
import { MONITOR_OPTIONS, type MonitorOptions } from './monitor.options';
import {
  ALERT_STATUSES,
  AlertRepository,
  RESOLUTIONS,
  type AlertFilter,
  type AlertRecord,
  type AlertStatus,
  type Resolution,
} from './repositories/alert.repository';
import { DeliveryRepository } from './repositories/delivery.repository';
import { ExpectationRepository, type ExpectationRecord } from './repositories/expectation.repository';
import { WebhookRepository, type WebhookRecord } from './repositories/webhook.repository';
import { checkWebhookUrl } from './webhook-client';

function obj(body: unknown, what = 'request body'): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest(`${what} must be a JSON object`);
  return body as Record<string, unknown>;
}

function optString(o: Record<string, unknown>, key: string, max = 2048): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    throw badRequest(`${key} must be a non-empty string of at most ${max} characters`);
  return v;
}

function onlyFields(o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw badRequest(`unknown field ${JSON.stringify(k)}`);
}

const DIGEST_RE = /^(?:(?:sha256|sha384|sha512):)?[0-9a-fA-F]{64,128}$/;
const NAME_RE = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;

/** Parses a `since` filter: RFC 3339 date-time or Unix milliseconds. */
export function parseSince(v: string): number {
  if (/^[0-9]{1,16}$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))?$/.test(v) || !Number.isFinite(t))
    throw badRequest(`since must be an RFC 3339 time or Unix milliseconds, got ${JSON.stringify(v)}`);
  return t;
}

/** Admin operations behind the /v1/monitor API: alert triage, expectations, webhook endpoints. */
@Injectable()
export class MonitorAdminService {
  private readonly now: () => number;

  constructor(
    private readonly alerts: AlertRepository,
    private readonly expectations: ExpectationRepository,
    private readonly webhooks: WebhookRepository,
    private readonly deliveries: DeliveryRepository,
    private readonly db: VellumDatabase,
    @Inject(MONITOR_CONFIG) private readonly config: MonitorConfig,
    @Inject(MONITOR_OPTIONS) private readonly options: MonitorOptions,
    @Optional() private readonly delivery?: DeliveryService,
  ) {
    this.now = options.now ?? Date.now;
  }

  // -- alerts ----------------------------------------------------------------------------------

  alertFilter(q: Record<string, unknown>): AlertFilter {
    const s = (k: string): string | undefined => {
      const v = q[k];
      if (v === undefined || v === '') return undefined;
      if (typeof v !== 'string') throw badRequest(`query parameter ${k} must be given once`);
      return v;
    };
    const status = s('status');
    if (status !== undefined && !(ALERT_STATUSES as readonly string[]).includes(status))
      throw badRequest(`status must be one of ${ALERT_STATUSES.join(', ')}`);
    const typeRaw = s('type');
    const type = typeRaw === undefined ? undefined : normalizeEventType(typeRaw);
    if (typeRaw !== undefined && type === undefined)
      throw badRequest(`type must be one of ${MONITOR_EVENT_TYPES.join(', ')}`);
    const since = s('since');
    const limitRaw = s('limit');
    const offsetRaw = s('offset');
    const limit = limitRaw === undefined ? 100 : Number(limitRaw);
    const offset = offsetRaw === undefined ? 0 : Number(offsetRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be 1..1000');
    if (!Number.isInteger(offset) || offset < 0) throw badRequest('offset must be a non-negative integer');
    const rule = s('rule');
    return {
      ...(status !== undefined ? { status: status as AlertStatus } : {}),
      ...(rule !== undefined ? { rule } : {}),
      ...(type !== undefined ? { type } : {}),
      ...(since !== undefined ? { sinceMs: parseSince(since) } : {}),
      limit,
      offset,
    };
  }

  async getAlert(id: string): Promise<AlertRecord> {
    const a = await this.alerts.get(id);
    if (!a) throw notFound(`alert ${id}`);
    return a;
  }

  async acknowledge(id: string, body: unknown): Promise<AlertRecord> {
    const o = obj(body);
    const actor = optString(o, 'actor', 256);
    return this.triage(id, 'acknowledge', actor, async (tx, from, now) => {
      if (from === 'acknowledged') return undefined;
      await this.alerts.markAcknowledged(tx, id, actor, now);
      return { from };
    });
  }

  async resolve(id: string, body: unknown): Promise<AlertRecord> {
    const o = obj(body);
    const resolution = o.resolution;
    if (typeof resolution !== 'string' || !(RESOLUTIONS as readonly string[]).includes(resolution))
      throw badRequest(`resolution must be one of ${RESOLUTIONS.join(', ')}`);
    const note = optString(o, 'reason', 4096) ?? optString(o, 'note', 4096);
    const actor = optString(o, 'actor', 256);
    return this.triage(id, 'resolve', actor, async (tx, from, now) => {
      await this.alerts.markResolved(tx, id, resolution as Resolution, note, now);
      return { from, resolution: resolution as Resolution, note };
    });
  }

  /** Triage of an unresolved alert: `change` returns the audit detail (undefined: nothing to do). */
  private async triage(
    id: string,
    action: 'acknowledge' | 'resolve',
    actor: string | undefined,
    change: (tx: SqlTx, from: AlertStatus, now: number) => Promise<Record<string, unknown> | undefined>,
  ): Promise<AlertRecord> {
    const now = this.now();
    await this.db.transaction(async (tx) => {
      const status = await this.alerts.txStatus(tx, id);
      if (status === undefined) throw notFound(`alert ${id}`);
      if (status === 'resolved') throw conflict(`alert ${id} is already resolved`);
      const detail = await change(tx, status, now);
      if (detail === undefined) return;
      // Someone has it: stop retrying deliveries that have not gone through yet.
      await this.deliveries.failPending(tx, id, `alert ${action}d before delivery`);
      await this.alerts.audit(tx, id, action, actor, detail, now);
    });
    return this.getAlert(id);
  }

  // -- expectations ----------------------------------------------------------------------------

  async createExpectation(body: unknown): Promise<ExpectationRecord> {
    const o = obj(body);
    onlyFields(o, ['runInvocationUri', 'digest', 'rule', 'expiresAt', 'ttlSeconds', 'note']);
    const runInvocationUri = optString(o, 'runInvocationUri');
    const digest = optString(o, 'digest', 200);
    if (runInvocationUri === undefined && digest === undefined)
      throw badRequest('give runInvocationUri (Fulcio OID 1.3.6.1.4.1.57264.1.21) or digest, or both');
    if (digest !== undefined && !DIGEST_RE.test(digest))
      throw badRequest("digest must be '<sha256|sha384|sha512>:<hex>' or 64 hex digits");
    const rule = optString(o, 'rule', 128);
    const note = optString(o, 'note', 1024);
    const now = this.now();
    let expiresAt: number | undefined;
    if (o.expiresAt !== undefined && o.ttlSeconds !== undefined)
      throw badRequest('give expiresAt or ttlSeconds, not both');
    if (o.expiresAt !== undefined) {
      if (typeof o.expiresAt !== 'string') throw badRequest('expiresAt must be an RFC 3339 time');
      expiresAt = parseSince(o.expiresAt);
    } else if (o.ttlSeconds !== undefined) {
      if (
        typeof o.ttlSeconds !== 'number' ||
        !Number.isInteger(o.ttlSeconds) ||
        o.ttlSeconds < 1 ||
        o.ttlSeconds > 31_536_000
      )
        throw badRequest('ttlSeconds must be an integer between 1 and 31536000');
      expiresAt = now + o.ttlSeconds * 1000;
    }
    const e: ExpectationRecord = {
      id: randomUUID(),
      ...(runInvocationUri !== undefined ? { runInvocationUri } : {}),
      ...(digest !== undefined ? { digest } : {}),
      ...(rule !== undefined ? { ruleId: rule } : {}),
      ...(note !== undefined ? { note } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      createdAt: now,
    };
    await this.db.transaction((tx) => this.expectations.insert(tx, e));
    return e;
  }

  async deleteExpectation(id: string): Promise<void> {
    const n = await this.db.transaction((tx) => this.expectations.delete(tx, id));
    if (n === 0) throw notFound(`expectation ${id}`);
  }

  // -- webhooks --------------------------------------------------------------------------------

  async createWebhook(body: unknown): Promise<{ webhook: WebhookRecord; secret: string }> {
    const o = obj(body);
    onlyFields(o, ['url', 'eventTypes', 'name', 'description']);
    const url = optString(o, 'url');
    if (url === undefined) throw badRequest('url is required');
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw badRequest('url is not a valid absolute URL');
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw badRequest('url must be http(s)');
    const dest = await checkWebhookUrl(url, this.config.webhookAllowPrivate, this.options.resolveHost);
    if (dest.refused !== undefined)
      throw badRequest(
        `destination refused: ${dest.refused}${this.config.webhookAllowPrivate ? '' : ' (set WEBHOOK_ALLOW_PRIVATE=true to allow private and loopback receivers)'}`,
      );
    if (dest.error !== undefined) throw badRequest(dest.error);
    if (!Array.isArray(o.eventTypes) || o.eventTypes.length === 0)
      throw badRequest(`eventTypes must be a non-empty list of ${MONITOR_EVENT_TYPES.join(', ')}`);
    const types = new Set<MonitorEventType>();
    for (const t of o.eventTypes) {
      const n = normalizeEventType(t);
      if (n === undefined)
        throw badRequest(`unknown event type ${JSON.stringify(t)}; one of ${MONITOR_EVENT_TYPES.join(', ')}`);
      types.add(n);
    }
    const id = randomUUID();
    const name = optString(o, 'name', 64) ?? id;
    if (name !== id && !NAME_RE.test(name))
      throw badRequest(
        'name must be lowercase letters, digits, ".", "_", "-" (1-64, alphanumeric at both ends)',
      );
    const description = optString(o, 'description', 1024);
    const secret = generateWebhookSecret((n) => randomBytes(n));
    const now = this.now();
    const w: WebhookRecord = {
      id,
      name,
      url,
      eventTypes: [...types],
      secret,
      ...(description !== undefined ? { description } : {}),
      enabled: true,
      createdAt: now,
      updatedAt: now,
    };
    await this.db.transaction(async (tx) => {
      if (await this.webhooks.txNameTaken(tx, name))
        throw conflict(`a webhook named '${name}' already exists`);
      await this.webhooks.insert(tx, w);
    });
    return { webhook: w, secret };
  }

  async getWebhook(id: string): Promise<WebhookRecord> {
    const w = await this.webhooks.get(id);
    if (!w) throw notFound(`webhook ${id}`);
    return w;
  }

  async enableWebhook(id: string): Promise<WebhookRecord> {
    const w = await this.getWebhook(id);
    await this.db.transaction((tx) => this.webhooks.setEnabled(tx, w.id, true, undefined, this.now()));
    // Its rows kept waiting while it was disabled; where the delivery loop runs, they go now.
    this.delivery?.kick();
    return this.getWebhook(w.id);
  }

  async deleteWebhook(id: string): Promise<void> {
    const w = await this.getWebhook(id);
    // One transaction: the endpoint and its outbox rows go together (no row left without its endpoint).
    await this.db.transaction(async (tx) => {
      await this.deliveries.deleteForEndpoint(tx, w.id);
      await this.webhooks.delete(tx, w.id);
    });
  }
}

// The views below are only ever sent as JSON, which leaves out fields that are undefined.

/** Public view of an endpoint: never the secret. */
export function webhookView(w: WebhookRecord): Record<string, unknown> {
  return {
    id: w.id,
    name: w.name,
    url: w.url,
    eventTypes: w.eventTypes,
    description: w.description,
    enabled: w.enabled,
    disabledReason: w.disabledReason,
    disabledAt: iso(w.disabledAt),
    createdAt: iso(w.createdAt),
  };
}

export const iso = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** Alert as listed (no evidence, no payload). */
export function alertSummaryView(a: AlertRecord): Record<string, unknown> {
  return {
    id: a.id,
    type: a.type,
    rule: a.ruleId === '' ? null : a.ruleId,
    severity: a.severity,
    action: a.action,
    expected: a.expected,
    status: a.status,
    logIndex: a.entryIndex,
    uuid: a.uuid,
    summary: a.summary,
    source: a.source,
    createdAt: iso(a.createdAt),
    ...(a.acknowledgedAt !== undefined
      ? { acknowledgedAt: iso(a.acknowledgedAt), acknowledgedBy: a.acknowledgedBy ?? null }
      : {}),
    ...(a.resolvedAt !== undefined
      ? {
          resolvedAt: iso(a.resolvedAt),
          resolution: a.resolution,
          resolutionReason: a.resolutionNote ?? null,
        }
      : {}),
  };
}

/** One alert in full: identity, reasons, evidence, the event as delivered. */
export function alertView(a: AlertRecord): Record<string, unknown> {
  return {
    ...alertSummaryView(a),
    ruleDigest: a.ruleDigest,
    leafHash: a.leafHash,
    identity: a.identity,
    reasons: a.reasons,
    evidence: a.evidence ?? null,
    event: JSON.parse(a.payload.toString('utf8')) as unknown,
  };
}

export function expectationView(e: ExpectationRecord): Record<string, unknown> {
  return {
    id: e.id,
    runInvocationUri: e.runInvocationUri,
    digest: e.digest,
    rule: e.ruleId,
    note: e.note,
    expiresAt: iso(e.expiresAt),
    createdAt: iso(e.createdAt),
  };
}
