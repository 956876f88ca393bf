/**
 * Vellum-side event vocabulary on top of the pure monitor core: the event types webhooks can
 * subscribe to, log-level events (log.inconsistent, monitor.lagging), alert evidence, and
 * identities read without throwing. Pure: no I/O, no clock.
 */
import { VellumError } from '../../core/errors';
import { verifyRekorCheckpoint } from '../../core/checkpoint';
import type { LogPublicKey } from '../../core/keys';
import { leafHash } from '../../core/merkle/hash';
import { verifyInclusion } from '../../core/merkle/verify';
import {
  eventId,
  extractIdentities,
  isoTimestamp,
  unparsableIdentity,
  type EntryIdentity,
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

export interface SerializedEvent {
  readonly id: string;
  readonly type: MonitorEventType;
  /** Exact body bytes: `{type, timestamp, data}` JSON. */
  readonly body: Buffer;
}

/** A log-level event (no rule): its id is `eventId(origin, index, '<type>', coreType)`. */
export function logEvent(
  type: 'log.inconsistent' | 'monitor.lagging',
  origin: string,
  index: number,
  timestampMs: number,
  data: Record<string, unknown>,
): SerializedEvent {
  const event = { type, timestamp: isoTimestamp(timestampMs), data };
  const id = eventId(origin, index, type, type === 'log.inconsistent' ? 'log.tamper' : type);
  return { id, type, body: Buffer.from(JSON.stringify(event), 'utf8') };
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

/** An entry without any verifier gets an unparsable signer saying so (alerts then give the reason). */
function withSigner(identity: EntryIdentity): EntryIdentity {
  if (identity.signers.length > 0) return identity;
  const u = unparsableIdentity(identity.kind, identity.apiVersion, 'the entry carries no verifier');
  return { ...identity, signers: u.signers, malformed: [...identity.malformed, ...u.malformed] };
}

/**
 * Identities of an entry, never throwing: unsupported kinds and non-JSON bodies become
 * unparsable, of the kind given or else (the independent monitor) the one the body names.
 */
export function safeExtract(body: Buffer, kind?: string, apiVersion?: string): EntryIdentity {
  try {
    return withSigner(extractIdentities(body));
  } catch (e) {
    if (kind === undefined) {
      try {
        const o = JSON.parse(body.toString('utf8')) as { kind?: unknown; apiVersion?: unknown };
        if (typeof o.kind === 'string') kind = o.kind;
        if (typeof o.apiVersion === 'string') apiVersion = o.apiVersion;
      } catch {
        /* not JSON: stays unknown */
      }
    }
    const reason = e instanceof Error ? e.message : String(e);
    return unparsableIdentity(kind ?? 'unknown', apiVersion ?? '', reason);
  }
}
