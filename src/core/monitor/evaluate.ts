/**
 * Rule evaluation (docs/monitoring.md, "Scope and expect"): which rules an entry's identity concerns and what to emit.
 *
 * Matching is three-valued so that parsing stays fail-safe: a condition is `yes`, `no`, or
 * `unknown` (the field exists but could not be decoded: a malformed extension or SAN, a truncated
 * value, an unparsable certificate). A matcher item is the AND of its conditions, a list of items
 * the OR (Kleene logic). Each signer (verifier) of the entry is matched on its own: all conditions
 * of one item must hold for the same certificate. A multi-valued field (the SANs) holds if any
 * value does.
 *
 * Per rule (rules with action `ignore` produce nothing):
 * - scope `no` for every signer → nothing;
 * - scope `unknown` for a signer → `entry.malformed` (possibly yours);
 * - scope `yes`:
 *   - without `expect` → `identity.matched`;
 *   - with `expect`: no item `yes` and one `no`… → `identity.unexpected`; `unknown` → `entry.malformed`;
 *   - `.1.1` and `.1.8` issuers that differ → `identity.unexpected` (reason `issuer-disagreement`),
 *     whatever `expect` says; for scope either issuer value may match, for `expect` both must;
 *   - any malformed field in the in-scope signer (or the entry) → `entry.malformed` as well.
 * Pre-registered expectations (run-invocation URI or digest) mark `identity.matched` /
 * `identity.unexpected` outcomes `expected: true` (record, do not alert), except for issuer
 * disagreement. Malformed outcomes are never suppressed.
 */
import { VellumError } from '../errors';
import type { EntryIdentity, MalformedReason, SignerIdentity } from './identity';
import { subjectSans } from './identity';
import { OID_FULCIO_OTHERNAME_SAN, OID_RUN_INVOCATION_URI } from '../x509';
import type { Condition, IdentityRule, MatcherItem, RuleAction, Severity } from './rules';

export type Tri = 'yes' | 'no' | 'unknown';
export type OutcomeEventType = 'identity.unexpected' | 'entry.malformed' | 'identity.matched';
export type ReasonCode =
  | 'in-scope'
  | 'no-expect-match'
  | 'issuer-disagreement'
  | 'malformed'
  | 'scope-undetermined'
  | 'expect-undetermined';

export interface OutcomeReason {
  readonly code: ReasonCode;
  /** Index into `identity.signers`, when the reason is about one signer. */
  readonly signer?: number;
  /** Plain text; may quote hostile values: escape before display. */
  readonly message: string;
}

export interface RuleOutcome {
  readonly ruleId: string;
  readonly ruleDigest: string;
  readonly eventType: OutcomeEventType;
  /** `alert`: notify; `record`: store only. */
  readonly action: Exclude<RuleAction, 'ignore'>;
  readonly severity: Severity;
  /** True when a pre-registered expectation covers this outcome: record it, do not alert. */
  readonly expected: boolean;
  readonly expectationIds: readonly string[];
  /** Signers (indexes into `identity.signers`) the outcome is about. */
  readonly signers: readonly number[];
  readonly reasons: readonly OutcomeReason[];
}

/** A pre-registered expected signing (`POST /v1/monitor/expectations`). Give one or both matchers. */
export interface Expectation {
  readonly id: string;
  /** Exact Fulcio Run Invocation URI (OID .1.21) of the signing run. */
  readonly runInvocationUri?: string;
  /** `<alg>:<hex>` (or bare 64-hex SHA-256) of the signed artifact / payload / envelope (see EntryIdentity.digests). */
  readonly digest?: string;
  /** Restricts the expectation to one rule id. */
  readonly rule?: string;
  /** Expiry (epoch ms); requires `nowMs` in the options. */
  readonly expiresAtMs?: number;
}

export interface EvaluateOptions {
  readonly expectations?: readonly Expectation[];
  /** Current time (epoch ms), needed when an expectation has `expiresAtMs`. */
  readonly nowMs?: number;
}

interface Values {
  values: string[];
  unknown: boolean;
  /** For a disagreeing issuer in `expect` mode: every value must match. */
  all?: boolean;
}

type Mode = 'scope' | 'expect';

const NONE: Values = { values: [], unknown: false };
const UNKNOWN: Values = { values: [], unknown: true };

function otherNameUnknown(s: SignerIdentity): boolean {
  const c = s.certificate!;
  return (
    c.sansMalformed !== undefined ||
    c.sans.some(
      (x) =>
        x.type === 'otherName' &&
        x.malformed !== undefined &&
        (x.oid === undefined || x.oid === OID_FULCIO_OTHERNAME_SAN),
    )
  );
}

/** The values of `field` for one signer of the entry. */
function fieldValues(identity: EntryIdentity, s: SignerIdentity, cond: Condition, mode: Mode): Values {
  const f = cond.field;
  if (f.kind === 'core' && f.name === 'kind') return { values: [identity.kind], unknown: false };
  if (s.type === 'unparsable') {
    const c = s.certificate;
    if (f.kind === 'core' && f.name === 'fingerprint' && c) return { values: [c.sha256], unknown: true };
    return UNKNOWN;
  }
  if (s.type === 'publicKey') {
    if (f.kind === 'core' && f.name === 'fingerprint') {
      return s.publicKeySha256 ? { values: [s.publicKeySha256], unknown: false } : UNKNOWN;
    }
    return NONE;
  }
  const c = s.certificate!;
  if (f.kind === 'core' && f.name === 'fingerprint') {
    return {
      values: c.spkiSha256 ? [c.sha256, c.spkiSha256] : [c.sha256],
      unknown: c.spkiSha256 === undefined,
    };
  }
  if (!c.parsed) return UNKNOWN;
  if (f.kind === 'core') {
    switch (f.name) {
      case 'issuer': {
        const i = c.issuer;
        if (i.unknown) return UNKNOWN;
        if (i.disagreement) return { values: [i.v2!, i.v1!], unknown: false, all: mode === 'expect' };
        return { values: i.value !== undefined ? [i.value] : [], unknown: false };
      }
      case 'subject': {
        const sans = subjectSans(c);
        return {
          values: sans.filter((x) => x.malformed === undefined).map((x) => x.value),
          unknown:
            c.sansMalformed !== undefined ||
            sans.some((x) => x.malformed !== undefined) ||
            otherNameUnknown(s),
        };
      }
      default: {
        const type = f.name; // email | uri | dns | ip
        const sans = c.sans.filter((x) => x.type === type);
        return {
          values: sans.filter((x) => x.malformed === undefined).map((x) => x.value),
          unknown: c.sansMalformed !== undefined || sans.some((x) => x.malformed !== undefined),
        };
      }
    }
  }
  if (f.oid === OID_FULCIO_OTHERNAME_SAN) {
    const sans = c.sans.filter((x) => x.type === 'otherName' && x.oid === OID_FULCIO_OTHERNAME_SAN);
    return {
      values: sans.filter((x) => x.malformed === undefined).map((x) => x.value),
      unknown: otherNameUnknown(s),
    };
  }
  const exts = c.extensions.filter((e) => e.oid === f.oid);
  if (exts.length === 0) return NONE;
  if (exts.some((e) => e.malformed !== undefined)) return UNKNOWN;
  return { values: exts.map((e) => e.value), unknown: false };
}

function evalCondition(identity: EntryIdentity, s: SignerIdentity, cond: Condition, mode: Mode): Tri {
  const v = fieldValues(identity, s, cond, mode);
  if (v.all) return v.values.every((x) => cond.test(x)) ? 'yes' : 'no';
  if (v.values.some((x) => cond.test(x))) return 'yes';
  return v.unknown ? 'unknown' : 'no';
}

function evalItem(identity: EntryIdentity, s: SignerIdentity, item: MatcherItem, mode: Mode): Tri {
  let r: Tri = 'yes';
  for (const c of item.conditions) {
    const t = evalCondition(identity, s, c, mode);
    if (t === 'no') return 'no';
    if (t === 'unknown') r = 'unknown';
  }
  return r;
}

function evalItems(
  identity: EntryIdentity,
  s: SignerIdentity,
  items: readonly MatcherItem[],
  mode: Mode,
): Tri {
  let r: Tri = 'no';
  for (const item of items) {
    const t = evalItem(identity, s, item, mode);
    if (t === 'yes') return 'yes';
    if (t === 'unknown') r = 'unknown';
  }
  return r;
}

/** Scope of one rule for each signer (exported for dry runs and explanations). */
export function scopeOf(rule: IdentityRule, identity: EntryIdentity): Tri[] {
  return effectiveSigners(identity).map((s) => evalItems(identity, s, rule.scope, 'scope'));
}

/**
 * The signers rules are evaluated over. An entry with no verifier at all still gets one
 * unparsable signer, so it is in scope of everything (fail-safe) and outcome.signers indices
 * always point into this list; event builders must resolve indices through it too.
 */
export function effectiveSigners(identity: EntryIdentity): readonly SignerIdentity[] {
  if (identity.signers.length > 0) return identity.signers;
  return [{ path: '', type: 'unparsable', chainSha256: [], malformed: [] }];
}

const HEX64 = /^[0-9a-f]{64}$/i;

function normalizeDigest(d: string): string {
  const t = d.trim();
  if (HEX64.test(t)) return `sha256:${t.toLowerCase()}`;
  const i = t.indexOf(':');
  return i < 0 ? t : `${t.slice(0, i).toLowerCase()}:${t.slice(i + 1).toLowerCase()}`;
}

function checkExpectations(exps: readonly Expectation[], nowMs: number | undefined): void {
  for (const e of exps) {
    if (typeof e.id !== 'string' || e.id === '')
      throw new VellumError('INVALID_ARGUMENT', 'expectation without an id');
    if (e.runInvocationUri === undefined && e.digest === undefined) {
      throw new VellumError('INVALID_ARGUMENT', `expectation ${e.id}: give runInvocationUri or digest`);
    }
    if (e.expiresAtMs !== undefined && (nowMs === undefined || !Number.isFinite(nowMs))) {
      throw new VellumError('INVALID_ARGUMENT', `expectation ${e.id} has expiresAtMs: pass nowMs`);
    }
  }
}

function runUri(s: SignerIdentity): string | undefined {
  const e = s.certificate?.extensions.find((x) => x.oid === OID_RUN_INVOCATION_URI);
  return e && e.malformed === undefined ? e.value : undefined;
}

function matchingExpectations(
  exps: readonly Expectation[],
  nowMs: number | undefined,
  rule: IdentityRule,
  identity: EntryIdentity,
  signers: readonly SignerIdentity[],
): string[] {
  const digests = new Set(identity.digests);
  const ids: string[] = [];
  for (const e of exps) {
    if (e.rule !== undefined && e.rule !== rule.id) continue;
    if (e.expiresAtMs !== undefined && nowMs! > e.expiresAtMs) continue;
    const byDigest = e.digest !== undefined && digests.has(normalizeDigest(e.digest));
    const byRun =
      e.runInvocationUri !== undefined &&
      signers.length > 0 &&
      signers.every((s) => runUri(s) === e.runInvocationUri);
    if (byDigest || byRun) ids.push(e.id);
  }
  return ids;
}

const SUPPRESSIBLE: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['in-scope', 'no-expect-match']);

function describeMalformed(list: readonly MalformedReason[]): string {
  const shown = list.slice(0, 5).map((m) => `${m.path}: ${m.reason}`);
  return shown.join('; ') + (list.length > 5 ? `; … ${list.length - 5} more` : '');
}

/** Evaluates every rule against one entry's identity. See the module comment for the semantics. */
export function evaluate(
  rules: readonly IdentityRule[],
  identity: EntryIdentity,
  options: EvaluateOptions = {},
): RuleOutcome[] {
  const exps = options.expectations ?? [];
  checkExpectations(exps, options.nowMs);
  const signers = effectiveSigners(identity);
  const signerKeys = new Set(signers.flatMap((s) => s.malformed.map((m) => `${m.path}\n${m.reason}`)));
  const entryLevel = identity.malformed.filter((m) => !signerKeys.has(`${m.path}\n${m.reason}`));
  const out: RuleOutcome[] = [];

  for (const rule of rules) {
    if (rule.action === 'ignore') continue;
    const acc = new Map<OutcomeEventType, { reasons: OutcomeReason[]; signers: Set<number> }>();
    const add = (type: OutcomeEventType, reason: OutcomeReason): void => {
      let a = acc.get(type);
      if (!a) acc.set(type, (a = { reasons: [], signers: new Set() }));
      a.reasons.push(reason);
      if (reason.signer !== undefined) a.signers.add(reason.signer);
    };
    let touched = false;
    signers.forEach((s, i) => {
      const scope = evalItems(identity, s, rule.scope, 'scope');
      if (scope === 'no') return;
      touched = true;
      if (scope === 'unknown') {
        add('entry.malformed', {
          code: 'scope-undetermined',
          signer: i,
          message: `cannot tell whether signer ${i} is in scope: ${describeMalformed(s.malformed) || 'identity not decodable'}`,
        });
        return;
      }
      if (s.malformed.length > 0) {
        add('entry.malformed', {
          code: 'malformed',
          signer: i,
          message: `in-scope signer ${i}: ${describeMalformed(s.malformed)}`,
        });
      }
      const iss = s.certificate?.issuer;
      if (iss?.disagreement) {
        add('identity.unexpected', {
          code: 'issuer-disagreement',
          signer: i,
          message: `signer ${i}: issuer OIDs disagree (.1.8 ${JSON.stringify(iss.v2)}, .1.1 ${JSON.stringify(iss.v1)})`,
        });
      }
      if (!rule.expect) {
        add('identity.matched', { code: 'in-scope', signer: i, message: `signer ${i} is in scope` });
        return;
      }
      const e = evalItems(identity, s, rule.expect, 'expect');
      if (e === 'no') {
        add('identity.unexpected', {
          code: 'no-expect-match',
          signer: i,
          message: `signer ${i} is in scope and matches no expect item`,
        });
      } else if (e === 'unknown') {
        add('entry.malformed', {
          code: 'expect-undetermined',
          signer: i,
          message: `cannot tell whether signer ${i} matches an expect item: ${describeMalformed(s.malformed)}`,
        });
      }
    });
    if (touched && entryLevel.length > 0) {
      add('entry.malformed', { code: 'malformed', message: `entry: ${describeMalformed(entryLevel)}` });
    }
    for (const type of ['identity.unexpected', 'entry.malformed', 'identity.matched'] as const) {
      const a = acc.get(type);
      if (!a) continue;
      let expectationIds: string[] = [];
      if (type !== 'entry.malformed' && a.reasons.every((r) => SUPPRESSIBLE.has(r.code))) {
        const involved = [...a.signers].map((i) => signers[i]!);
        expectationIds = matchingExpectations(exps, options.nowMs, rule, identity, involved);
      }
      out.push({
        ruleId: rule.id,
        ruleDigest: rule.digest,
        eventType: type,
        action: rule.action,
        severity: rule.severity,
        expected: expectationIds.length > 0,
        expectationIds,
        signers: [...a.signers].sort((x, y) => x - y),
        reasons: a.reasons,
      });
    }
  }
  return out;
}
