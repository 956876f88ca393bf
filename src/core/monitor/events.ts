/**
 * Monitor events (docs/monitoring.md, "Alerts"): stable ids, Standard Webhooks payloads `{type, timestamp,
 * data}`, and alert text. Payload values are raw (JSON-escaped by serialisation); only the
 * `summary` text is escaped for display.
 */
import { createHash } from 'node:crypto';
import { VellumError } from '../errors';
import { isWellFormedUnicode } from '../encoding';
import { escapeForDisplay } from './display';
import type { EntryIdentity, SignerIdentity } from './identity';
import { subjectSans } from './identity';
import { effectiveSigners, type RuleOutcome } from './evaluate';

export const EVENT_TYPES = [
  'identity.unexpected',
  'identity.matched',
  'entry.malformed',
  'log.tamper',
  'monitor.lagging',
  'monitor.gap',
  'monitor.heartbeat',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

function lp(s: string, what: string): Buffer {
  if (typeof s !== 'string' || !isWellFormedUnicode(s)) {
    throw new VellumError('INVALID_ARGUMENT', `${what} must be a well-formed string`);
  }
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/**
 * Stable event id: hex SHA-256 of
 * `u32be(len(logOrigin)) ‖ logOrigin ‖ u64be(index) ‖ u32be(len(ruleId)) ‖ ruleId ‖ u32be(len(eventType)) ‖ eventType`
 * (strings UTF-8). The same entry, rule and event type always give the same id, across retries
 * and re-scans, so it is the `webhook-id` and the dedupe key. Log-level events that have no rule
 * pass `ruleId` `''` (or a subscription id) and the tree size / index they concern.
 */
export function eventId(
  logOrigin: string,
  index: number | bigint,
  ruleId: string,
  eventType: EventType,
): string {
  if (!(EVENT_TYPES as readonly string[]).includes(eventType)) {
    throw new VellumError('INVALID_ARGUMENT', `unknown event type ${JSON.stringify(eventType)}`);
  }
  const i = typeof index === 'bigint' ? index : Number.isSafeInteger(index) ? BigInt(index) : -1n;
  if (i < 0n || i > 0xffffffffffffffffn)
    throw new VellumError('INVALID_ARGUMENT', 'index must be an integer in [0, 2^64)');
  const idx = Buffer.alloc(8);
  idx.writeBigUInt64BE(i);
  return createHash('sha256')
    .update(lp(logOrigin, 'logOrigin'))
    .update(idx)
    .update(lp(ruleId, 'ruleId'))
    .update(lp(eventType, 'eventType'))
    .digest('hex');
}

export interface WebhookEvent<T = unknown> {
  readonly type: EventType;
  /** RFC 3339 UTC with milliseconds. */
  readonly timestamp: string;
  readonly data: T;
}

/** ISO 8601 / RFC 3339 UTC time for an epoch-ms timestamp (no clock read). */
export function isoTimestamp(epochMs: number): string {
  if (!Number.isFinite(epochMs))
    throw new VellumError('INVALID_ARGUMENT', 'timestamp must be a finite number');
  const ms = Math.trunc(epochMs);
  const days = Math.floor(ms / 86_400_000);
  const rem = ms - days * 86_400_000;
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm), no Date object involved.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  if (y < 0 || y > 9999) throw new VellumError('INVALID_ARGUMENT', 'timestamp out of range');
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const hh = Math.floor(rem / 3_600_000);
  const mi = Math.floor((rem % 3_600_000) / 60_000);
  const ss = Math.floor((rem % 60_000) / 1000);
  return `${p(y, 4)}-${p(m)}-${p(d)}T${p(hh)}:${p(mi)}:${p(ss)}.${p(rem % 1000, 3)}Z`;
}

/** A signer's identity as carried in payloads: raw values, no escaping. */
export interface SignerSummary {
  readonly type: SignerIdentity['type'];
  readonly path: string;
  readonly subjects?: ReadonlyArray<{
    readonly type: string;
    readonly value: string;
    readonly malformed?: string;
  }>;
  readonly issuer?: string;
  readonly issuerDisagreement?: { readonly v1?: string; readonly v2?: string };
  readonly certificateSha256?: string;
  readonly publicKeySha256?: string;
  /** Fulcio extensions by rekor-monitor name, else dotted OID. */
  readonly extensions?: Readonly<Record<string, string>>;
  readonly malformed?: ReadonlyArray<{ readonly path: string; readonly reason: string }>;
}

export function summarizeSigner(s: SignerIdentity): SignerSummary {
  const c = s.certificate;
  const ext: Record<string, string> = {};
  if (c)
    for (const e of c.extensions)
      ext[e.name ?? e.oid] = e.malformed === undefined ? e.value : `(malformed) ${e.value}`;
  return {
    type: s.type,
    path: s.path,
    ...(c && c.parsed
      ? {
          subjects: subjectSans(c).map((x) => ({
            type: x.type,
            value: x.value,
            ...(x.malformed ? { malformed: x.malformed } : {}),
          })),
          ...(c.issuer.value !== undefined ? { issuer: c.issuer.value } : {}),
          ...(c.issuer.disagreement ? { issuerDisagreement: { v1: c.issuer.v1, v2: c.issuer.v2 } } : {}),
          extensions: ext,
        }
      : {}),
    ...(c ? { certificateSha256: c.sha256 } : {}),
    ...(s.publicKeySha256 ? { publicKeySha256: s.publicKeySha256 } : {}),
    ...(s.malformed.length > 0 ? { malformed: s.malformed.slice(0, 20) } : {}),
  };
}

/** Where the entry sits; evidence (checkpoint, inclusion proof) is attached by the caller. */
export interface EntryContext {
  readonly logOrigin: string;
  readonly index: number | bigint;
  /** Hex leaf hash. */
  readonly leafHash?: string;
  readonly uuid?: string;
  readonly integratedTime?: number;
  /** Signed checkpoint covering the entry, inclusion proof, …: carried verbatim. */
  readonly evidence?: unknown;
}

export interface IdentityEventData {
  readonly logOrigin: string;
  readonly logIndex: string;
  readonly leafHash?: string;
  readonly uuid?: string;
  readonly integratedTime?: number;
  readonly kind: string;
  readonly rule: {
    readonly id: string;
    readonly digest: string;
    readonly severity: string;
    readonly action: string;
  };
  readonly expected: boolean;
  readonly expectationIds: readonly string[];
  readonly reasons: RuleOutcome['reasons'];
  readonly signers: readonly SignerSummary[];
  /** One line of display-safe text (escaped with escapeForDisplay). */
  readonly summary: string;
  readonly evidence?: unknown;
}

const MAX_SIGNERS_IN_PAYLOAD = 8;

/** Display-safe one-line summary of an outcome (Markdown/Slack/HTML-inert). */
export function outcomeSummary(outcome: RuleOutcome, identity: EntryIdentity, ctx: EntryContext): string {
  const first = outcome.signers.length > 0 ? effectiveSigners(identity)[outcome.signers[0]!] : undefined;
  const subj = first?.certificate?.parsed ? subjectSans(first.certificate).map((x) => x.value)[0] : undefined;
  const issuer = first?.certificate?.issuer.value;
  const who =
    subj !== undefined
      ? `${escapeForDisplay(subj)}${issuer !== undefined ? ` (issuer ${escapeForDisplay(issuer)})` : ''}`
      : first?.publicKeySha256
        ? `key sha256:${first.publicKeySha256}`
        : 'an undecodable identity';
  return `${outcome.eventType} for rule ${escapeForDisplay(outcome.ruleId)} at ${escapeForDisplay(ctx.logOrigin)} index ${String(ctx.index)}: ${who}${outcome.expected ? ' (expected)' : ''}`;
}

export function identityEventData(
  outcome: RuleOutcome,
  identity: EntryIdentity,
  ctx: EntryContext,
): IdentityEventData {
  return {
    logOrigin: ctx.logOrigin,
    logIndex: String(ctx.index),
    ...(ctx.leafHash !== undefined ? { leafHash: ctx.leafHash } : {}),
    ...(ctx.uuid !== undefined ? { uuid: ctx.uuid } : {}),
    ...(ctx.integratedTime !== undefined ? { integratedTime: ctx.integratedTime } : {}),
    kind: identity.kind,
    rule: {
      id: outcome.ruleId,
      digest: outcome.ruleDigest,
      severity: outcome.severity,
      action: outcome.action,
    },
    expected: outcome.expected,
    expectationIds: outcome.expectationIds,
    reasons: outcome.reasons.slice(0, 20),
    signers: outcome.signers
      .slice(0, MAX_SIGNERS_IN_PAYLOAD)
      .map((i) => summarizeSigner(effectiveSigners(identity)[i]!)),
    summary: outcomeSummary(outcome, identity, ctx),
    ...(ctx.evidence !== undefined ? { evidence: ctx.evidence } : {}),
  };
}

export interface BuiltEvent<T = unknown> {
  /** Stable id: the `webhook-id` header and the dedupe key. */
  readonly id: string;
  readonly event: WebhookEvent<T>;
  /** Exact bytes to sign and send. */
  readonly body: Buffer;
}

/** Everything the outbox stores for one identity outcome. `timestampMs` is when the event was created. */
export function buildIdentityEvent(
  outcome: RuleOutcome,
  identity: EntryIdentity,
  ctx: EntryContext,
  timestampMs: number,
): BuiltEvent<IdentityEventData> {
  const event: WebhookEvent<IdentityEventData> = {
    type: outcome.eventType,
    timestamp: isoTimestamp(timestampMs),
    data: identityEventData(outcome, identity, ctx),
  };
  const id = eventId(ctx.logOrigin, ctx.index, outcome.ruleId, outcome.eventType);
  return { id, event, body: Buffer.from(JSON.stringify(event), 'utf8') };
}
