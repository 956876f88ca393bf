/**
 * Identity index keys for backfills: the keys the live evaluator stores per entry, and the keys a
 * rule's scope can match, so a backfill over evaluated entries reads candidates instead of scanning.
 */
import { FULCIO_ARC } from '../x509';
import { subjectSans } from './identity';
import type { EntryIdentity } from './identity-types';
import type { IdentityRule, MatcherItem } from './rule-types';

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
export function identityIndexKeys(identity: EntryIdentity): string[] {
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
