/**
 * Vellum-side event vocabulary on top of the pure monitor core: the event types webhooks can
 * subscribe to, log-level events (log.inconsistent, monitor.lagging), alert evidence, and the
 * identity index keys backfills use. Pure: no I/O, no clock.
 */
import { VellumError } from '../../core/errors';
import { verifyRekorCheckpoint } from '../../core/checkpoint';
import type { LogPublicKey } from '../../core/keys';
import { leafHash } from '../../core/merkle/hash';
import { verifyInclusion } from '../../core/merkle/verify';
import {
  FULCIO_ARC,
  eventId,
  extractIdentities,
  isoTimestamp,
  subjectSans,
  unparsableIdentity,
  type EntryIdentity,
  type IdentityRule,
  type MatcherItem,
} from '../../core/monitor';

/**
 * Event types of Vellum's monitor. `log.inconsistent` is the wire name of the core's `log.tamper`
 * (ids are computed with the core type so both spellings give one id).
 */
export const MONITOR_EVENT_TYPES = [
  'identity.unexpected',
  'identity.matched',
  'entry.malformed',
  'log.inconsistent',
  'monitor.lagging',
] as const;
export type MonitorEventType = (typeof MONITOR_EVENT_TYPES)[number];

/** Accepts the core's spelling `log.tamper` as an alias of `log.inconsistent`. */
export function normalizeEventType(t: unknown): MonitorEventType | undefined {
  if (t === 'log.tamper') return 'log.inconsistent';
  return (MONITOR_EVENT_TYPES as readonly unknown[]).includes(t) ? (t as MonitorEventType) : undefined;
}

/** Stable id of a log-level event (no rule): `eventId(origin, index, '<type>', coreType)`. */
export function logEventId(
  type: 'log.inconsistent' | 'monitor.lagging',
  origin: string,
  index: number,
): string {
  return eventId(origin, index, type, type === 'log.inconsistent' ? 'log.tamper' : 'monitor.lagging');
}

export interface SerializedEvent {
  readonly id: string;
  readonly type: MonitorEventType;
  /** Exact body bytes: `{type, timestamp, data}` JSON. */
  readonly body: Buffer;
}

export function logEvent(
  type: 'log.inconsistent' | 'monitor.lagging',
  origin: string,
  index: number,
  timestampMs: number,
  data: Record<string, unknown>,
): SerializedEvent {
  const event = { type, timestamp: isoTimestamp(timestampMs), data };
  return { id: logEventId(type, origin, index), type, body: Buffer.from(JSON.stringify(event), 'utf8') };
}

/**
 * What a receiver needs to check an alert offline with only the log's public key: the entry body
 * (leaf = SHA-256(0x00 ‖ body)), its inclusion proof and the signed checkpoint it leads to.
 */
export interface AlertEvidence {
  readonly logOrigin: string;
  /** Hex SHA-256 of the log key's DER SPKI. */
  readonly logId: string;
  readonly logIndex: number;
  readonly uuid: string;
  readonly leafHash: string;
  /** Standard base64 of the canonical entry body. */
  readonly body: string;
  readonly integratedTime: number;
  /** Base64 signed entry timestamp, as the log serves it. */
  readonly signedEntryTimestamp: string;
  readonly checkpoint: string;
  readonly treeSize: number;
  readonly rootHash: string;
  /** Hex hashes, leaf to root (RFC 6962 PATH). */
  readonly inclusionProof: readonly string[];
}

/** Offline check of an AlertEvidence (what a receiver does); throws VellumError on any failure. */
export function verifyAlertEvidence(
  e: AlertEvidence,
  key: LogPublicKey,
  verified?: Map<string, ReturnType<typeof verifyRekorCheckpoint>>,
): void {
  const body = Buffer.from(e.body, 'base64');
  const leaf = leafHash(body);
  if (leaf.toString('hex') !== e.leafHash)
    throw new VellumError('INVALID_PROOF', 'evidence body does not hash to its leaf hash');
  if (!e.uuid.endsWith(e.leafHash))
    throw new VellumError('INVALID_PROOF', 'evidence uuid is not the leaf hash');
  let cp = verified?.get(e.checkpoint);
  if (cp === undefined) {
    cp = verifyRekorCheckpoint(e.checkpoint, key);
    verified?.set(e.checkpoint, cp);
  }
  if (cp.size !== e.treeSize || cp.rootHash.toString('hex') !== e.rootHash)
    throw new VellumError('INVALID_PROOF', 'evidence tree size / root differ from the signed checkpoint');
  verifyInclusion(
    leaf,
    e.logIndex,
    cp.size,
    e.inclusionProof.map((h) => Buffer.from(h, 'hex')),
    cp.rootHash,
  );
}

/**
 * An entry without any verifier is evaluated (by the core) as one unparsable signer; the core's
 * event builder, however, indexes `identity.signers` directly. Materialise that signer so both
 * agree (otherwise building the event for such an entry throws).
 */
function withSigner(identity: EntryIdentity): EntryIdentity {
  if (identity.signers.length > 0) return identity;
  const u = unparsableIdentity(identity.kind, identity.apiVersion, 'the entry carries no verifier');
  return { ...identity, signers: u.signers, malformed: [...identity.malformed, ...u.malformed] };
}

/** Identities of an entry, never throwing: unsupported kinds and non-JSON bodies become unparsable. */
export function safeExtract(body: Buffer, kind: string, apiVersion: string): EntryIdentity {
  try {
    return withSigner(extractIdentities(body));
  } catch (e) {
    return unparsableIdentity(kind, apiVersion, e instanceof Error ? e.message : String(e));
  }
}

/** Like safeExtract, for a body whose kind is not known yet (the independent monitor). */
export function safeExtractBody(body: Buffer): EntryIdentity {
  try {
    return withSigner(extractIdentities(body));
  } catch (e) {
    let kind = 'unknown';
    let apiVersion = '';
    try {
      const o = JSON.parse(body.toString('utf8')) as { kind?: unknown; apiVersion?: unknown };
      if (typeof o.kind === 'string') kind = o.kind;
      if (typeof o.apiVersion === 'string') apiVersion = o.apiVersion;
    } catch {
      /* not JSON: stays unknown */
    }
    return unparsableIdentity(kind, apiVersion, e instanceof Error ? e.message : String(e));
  }
}

// ---------------------------------------------------------------------------------------------
// Identity index for backfills.

const OID_SOURCE_REPO_ID = `${FULCIO_ARC}.15`;
const OID_SOURCE_OWNER_ID = `${FULCIO_ARC}.17`;
const OID_OTHERNAME = `${FULCIO_ARC}.7`;
const INDEXED_EXTENSIONS = new Set([OID_SOURCE_REPO_ID, OID_SOURCE_OWNER_ID]);
/** Key of entries whose identity could not be fully decoded: every backfill reads them (fail-safe). */
export const MALFORMED_KEY = 'malformed';
const MAX_KEY_LENGTH = 1100;

function possiblyUndecodable(identity: EntryIdentity): boolean {
  if (identity.malformed.length > 0 || identity.signers.length === 0) return true;
  return identity.signers.some(
    (s) =>
      s.type === 'unparsable' ||
      s.malformed.length > 0 ||
      (s.certificate !== undefined && (!s.certificate.parsed || s.certificate.issuer.unknown)),
  );
}

/**
 * Keys written to monitor_identity_keys for one entry: `subj:<SAN>` (every identity SAN),
 * `fp:<hex>` (certificate and SPKI SHA-256), `ext:<oid>:<value>` (immutable repository and owner
 * ids), and `malformed` when anything could not be decoded.
 */
export function monitorIndexKeys(identity: EntryIdentity): string[] {
  const keys = new Set<string>();
  for (const s of identity.signers) {
    if (s.publicKeySha256) keys.add(`fp:${s.publicKeySha256}`);
    const c = s.certificate;
    if (!c) continue;
    keys.add(`fp:${c.sha256}`);
    if (c.spkiSha256) keys.add(`fp:${c.spkiSha256}`);
    if (!c.parsed) continue;
    for (const san of subjectSans(c)) if (san.malformed === undefined) keys.add(`subj:${san.value}`);
    for (const e of c.extensions) {
      if (INDEXED_EXTENSIONS.has(e.oid) && e.malformed === undefined) keys.add(`ext:${e.oid}:${e.value}`);
    }
  }
  if (possiblyUndecodable(identity)) keys.add(MALFORMED_KEY);
  return [...keys].filter((k) => k.length <= MAX_KEY_LENGTH);
}

function itemKeys(item: MatcherItem): string[] | undefined {
  for (const c of item.conditions) {
    if (c.op !== 'equals' && c.op !== 'in') continue;
    const f = c.field;
    if (f.kind === 'core') {
      if (['subject', 'email', 'uri', 'dns', 'ip'].includes(f.name)) return c.values.map((v) => `subj:${v}`);
      if (f.name === 'fingerprint') return c.values.map((v) => `fp:${v}`);
    } else if (f.oid === OID_OTHERNAME) {
      return c.values.map((v) => `subj:${v}`);
    } else if (INDEXED_EXTENSIONS.has(f.oid)) {
      return c.values.map((v) => `ext:${f.oid}:${v}`);
    }
  }
  return undefined;
}

/**
 * Index keys whose entries are a superset of those a rule's scope can touch, or undefined when
 * some scope item has no indexed exact-value condition (then a backfill scans every entry).
 * Always includes MALFORMED_KEY: undecodable entries may be in scope.
 */
export function candidateKeys(rule: IdentityRule): string[] | undefined {
  const keys = new Set<string>([MALFORMED_KEY]);
  for (const item of rule.scope) {
    const k = itemKeys(item);
    if (k === undefined) return undefined;
    for (const x of k) keys.add(x);
  }
  return [...keys];
}
