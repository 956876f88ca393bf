/**
 * Identity rules (docs/monitoring.md, "Rules"): parsing, validation, normalisation and lint.
 *
 * ```yaml
 * apiVersion: monitor.vellum/v1
 * kind: IdentityRule
 * metadata: {name: release-signer, owner: team-a}
 * spec:
 *   scope:   [ <matcher item>, ... ]   # any item matching = in scope
 *   expect:  [ <matcher item>, ... ]   # optional allowlist
 *   action: alert | record | ignore    # default alert
 *   severity: info | low | medium | high | critical   # default medium
 *   notify: ["webhook:sec-hook", ...]
 *   backfill: {fromIndex: 0}
 * ```
 * A matcher item maps fields to conditions; every condition must hold (AND). Fields: `subject`
 * (every identity SAN), `issuer` (resolved: `.1.8`, else `.1.1`), `email`, `uri`, `dns`, `ip`,
 * `fingerprint` (`sha256:<hex>` of a certificate or of a key's SPKI), `kind`, and Fulcio
 * extensions by camelCase name at top level (`sourceRepositoryIdentifier`) or, inside
 * `extensions:`, by rekor-monitor name (`runner-environment`) or dotted OID
 * (`"1.3.6.1.4.1.57264.1.23"`). A condition is a bare value (= `equals`), `<field>RegExp: expr`
 * (= `regex`), or an object of operators `equals | in | prefix | glob | regex` (several are ANDed).
 * Every regex and glob is a FULL match, RE2 syntax, run in linear time (re2js; see regex.ts).
 *
 * YAML is read with the failsafe schema: every scalar is a string, so `0123` stays `"0123"`.
 */
import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { VellumError } from '../errors';
import { canonicalize } from '../jcs';
import {
  OID_FULCIO_ISSUER_V1,
  OID_FULCIO_ISSUER_V2,
  fulcioArc,
  fulcioField,
  fulcioFieldByName,
  kebabToCamel,
  FULCIO_FIELDS,
} from '../x509';
import { formatIp, parseIp } from '../x509';
import { Pattern, compileGlob, compileRegex, unescapedHostDots } from './regex';

export const RULE_API_VERSION = 'monitor.vellum/v1';
export const RULE_KIND = 'IdentityRule';
export const RULE_LIMITS = {
  maxYamlBytes: 1 << 20,
  maxRules: 1000,
  maxItems: 100,
  maxInValues: 1000,
  maxValueLength: 2048,
} as const;

export const CORE_FIELDS = ['subject', 'issuer', 'email', 'uri', 'dns', 'ip', 'fingerprint', 'kind'] as const;
export type CoreField = (typeof CORE_FIELDS)[number];
export const OPERATORS = ['equals', 'in', 'prefix', 'glob', 'regex'] as const;
export type Operator = (typeof OPERATORS)[number];
export const ACTIONS = ['alert', 'record', 'ignore'] as const;
export type RuleAction = (typeof ACTIONS)[number];
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
/** Rekor entry kinds a `kind` condition may name. */
export const ENTRY_KINDS = [
  'hashedrekord',
  'dsse',
  'intoto',
  'rekord',
  'rfc3161',
  'cose',
  'tuf',
  'alpine',
  'helm',
  'jar',
  'rpm',
] as const;

export type FieldRef =
  | { readonly kind: 'core'; readonly name: CoreField }
  /** A Fulcio extension (dotted OID on 1.3.6.1.4.1.57264.1); `.1.7` means the OtherName SAN values. */
  | { readonly kind: 'extension'; readonly oid: string; readonly name?: string };

export interface Condition {
  readonly field: FieldRef;
  readonly op: Operator;
  /** Normalised operand(s): one value, or the `in` list. */
  readonly values: readonly string[];
  /** Path of the condition in the rule document, for messages. */
  readonly path: string;
  /** True when `value` satisfies this condition. */
  test(value: string): boolean;
}

export interface MatcherItem {
  readonly path: string;
  readonly conditions: readonly Condition[];
}

/** The normalised JSON form of a rule (what the admin API returns and what `digest` covers). */
export interface RuleDocument {
  apiVersion: typeof RULE_API_VERSION;
  kind: typeof RULE_KIND;
  metadata: { name: string; owner?: string; description?: string; labels?: Record<string, string> };
  spec: {
    scope: NormalizedItem[];
    expect?: NormalizedItem[];
    action: RuleAction;
    severity: Severity;
    notify: string[];
    backfill?: { fromIndex: number };
  };
}
export type OperatorObject = Partial<Record<Operator, string | string[]>>;
export type NormalizedItem = Partial<Record<CoreField, OperatorObject>> & {
  extensions?: Record<string, OperatorObject>;
};

export interface IdentityRule {
  /** metadata.name: the rule id used in events and alerts. */
  readonly id: string;
  readonly scope: readonly MatcherItem[];
  readonly expect?: readonly MatcherItem[];
  readonly action: RuleAction;
  readonly severity: Severity;
  readonly notify: readonly string[];
  readonly backfill?: { readonly fromIndex: number };
  readonly document: RuleDocument;
  /** Hex SHA-256 of the JCS of `document`: a version id for atomic reloads and audit. */
  readonly digest: string;
}

export interface RuleIssue {
  readonly path: string;
  readonly message: string;
}

export interface RuleValidation {
  readonly rules: IdentityRule[];
  readonly errors: RuleIssue[];
  readonly warnings: RuleIssue[];
}

// ---------------------------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const join = (path: string, key: string | number): string =>
  typeof key === 'number'
    ? `${path}[${key}]`
    : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)
      ? path === ''
        ? key
        : `${path}.${key}`
      : `${path}[${JSON.stringify(key)}]`;

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

function suggest(key: string, candidates: readonly string[]): string {
  const lower = key.toLowerCase();
  const hit =
    candidates.find((c) => c.toLowerCase() === lower) ??
    candidates.find((c) => levenshtein(c.toLowerCase(), lower) <= 2);
  return hit ? ` (did you mean '${hit}'?)` : '';
}

const TOP_LEVEL_FIELD_NAMES: string[] = [
  ...CORE_FIELDS,
  ...CORE_FIELDS.map((f) => `${f}RegExp`),
  ...FULCIO_FIELDS.filter((f) => f.name).map((f) => kebabToCamel(f.name!)),
  ...FULCIO_FIELDS.filter((f) => f.name).map((f) => `${kebabToCamel(f.name!)}RegExp`),
  'extensions',
];
const EXTENSION_KEY_NAMES: string[] = ['issuer', ...FULCIO_FIELDS.filter((f) => f.name).map((f) => f.name!)];

/** Resolves a field name used at the top level of a matcher item (without a `RegExp` suffix). */
function topLevelField(key: string): FieldRef | undefined {
  if ((CORE_FIELDS as readonly string[]).includes(key)) return { kind: 'core', name: key as CoreField };
  return extensionField(key);
}

/** Resolves a key of an `extensions:` map: rekor-monitor name (kebab or camel) or dotted OID. */
function extensionField(key: string): FieldRef | undefined {
  if (key === 'issuer' || key === 'issuers') return { kind: 'core', name: 'issuer' };
  const byName = fulcioFieldByName(key);
  if (byName) return { kind: 'extension', oid: byName.oid, ...(byName.name ? { name: byName.name } : {}) };
  if (fulcioArc(key) !== undefined) {
    const f = fulcioField(key)!;
    return { kind: 'extension', oid: f.oid, ...(f.name ? { name: f.name } : {}) };
  }
  return undefined;
}

function fieldKey(f: FieldRef): string {
  return f.kind === 'core' ? f.name : (f.name ?? f.oid);
}

const FINGERPRINT_RE = /^(?:sha256:)?([0-9a-f]{64})$/i;

interface Ctx {
  errors: RuleIssue[];
  warnings: RuleIssue[];
}

function scalar(v: unknown, path: string, ctx: Ctx, what = 'value'): string | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) v = String(v);
  if (typeof v !== 'string') {
    ctx.errors.push({ path, message: `${what} must be a string` });
    return undefined;
  }
  if (v.length > RULE_LIMITS.maxValueLength) {
    ctx.errors.push({ path, message: `${what} longer than ${RULE_LIMITS.maxValueLength} characters` });
    return undefined;
  }
  return v;
}

interface Pending {
  field: FieldRef;
  ops: OperatorObject;
  paths: Partial<Record<Operator, string>>;
}

function addOperators(
  pending: Map<string, Pending>,
  field: FieldRef,
  raw: unknown,
  path: string,
  ctx: Ctx,
  shorthandRegex: boolean,
): void {
  const key = fieldKey(field);
  let p = pending.get(key);
  if (!p) {
    p = { field, ops: {}, paths: {} };
    pending.set(key, p);
  }
  const put = (op: Operator, value: string | string[], opPath: string): void => {
    if (p!.ops[op] !== undefined) {
      ctx.errors.push({
        path: opPath,
        message: `operator '${op}' for field '${key}' is given more than once`,
      });
      return;
    }
    p!.ops[op] = value;
    p!.paths[op] = opPath;
  };
  if (shorthandRegex) {
    const v = scalar(raw, path, ctx, 'regex');
    if (v !== undefined) put('regex', v, path);
    return;
  }
  if (!isObject(raw)) {
    if (Array.isArray(raw)) {
      ctx.errors.push({ path, message: 'a list is not a condition; use {in: [...]}' });
      return;
    }
    const v = scalar(raw, path, ctx);
    if (v !== undefined) put('equals', v, path);
    return;
  }
  const keys = Object.keys(raw);
  if (keys.length === 0)
    ctx.errors.push({ path, message: 'empty condition: give one of equals, in, prefix, glob, regex' });
  for (const op of keys) {
    const opPath = join(path, op);
    if (!(OPERATORS as readonly string[]).includes(op)) {
      ctx.errors.push({
        path: opPath,
        message: `unknown operator '${op}'${suggest(op, OPERATORS)}; use equals, in, prefix, glob or regex`,
      });
      continue;
    }
    const v = raw[op];
    if (op === 'in') {
      if (!Array.isArray(v) || v.length === 0) {
        ctx.errors.push({ path: opPath, message: "'in' needs a non-empty list" });
        continue;
      }
      if (v.length > RULE_LIMITS.maxInValues) {
        ctx.errors.push({ path: opPath, message: `'in' has more than ${RULE_LIMITS.maxInValues} values` });
        continue;
      }
      const list: string[] = [];
      v.forEach((x, i) => {
        const s = scalar(x, join(opPath, i), ctx);
        if (s !== undefined) list.push(s);
      });
      if (list.length === v.length) put('in', list, opPath);
    } else {
      const s = scalar(v, opPath, ctx);
      if (s !== undefined) put(op as Operator, s, opPath);
    }
  }
}

function buildConditions(p: Pending, ctx: Ctx): Condition[] {
  const out: Condition[] = [];
  const key = fieldKey(p.field);
  const isFingerprint = p.field.kind === 'core' && p.field.name === 'fingerprint';
  const isKind = p.field.kind === 'core' && p.field.name === 'kind';
  for (const op of OPERATORS) {
    const operand = p.ops[op];
    if (operand === undefined) continue;
    const path = p.paths[op]!;
    let values = Array.isArray(operand) ? operand : [operand];
    if ((isFingerprint || isKind) && op !== 'equals' && op !== 'in') {
      ctx.errors.push({ path, message: `field '${key}' supports only 'equals' and 'in'` });
      continue;
    }
    if (isFingerprint) {
      const norm: string[] = [];
      for (const v of values) {
        const m = FINGERPRINT_RE.exec(v.trim());
        if (!m) {
          ctx.errors.push({
            path,
            message: `fingerprint ${JSON.stringify(v)} is not 'sha256:' followed by 64 hex digits`,
          });
          continue;
        }
        norm.push(m[1]!.toLowerCase());
      }
      if (norm.length !== values.length) continue;
      values = norm;
      p.ops[op] = Array.isArray(operand) ? norm.map((h) => `sha256:${h}`) : `sha256:${norm[0]}`;
    }
    if (p.field.kind === 'core' && p.field.name === 'ip' && (op === 'equals' || op === 'in')) {
      // Certificates' IP SANs are rendered canonically (RFC 5952); so are the operands.
      values = values.map((v) => {
        const b = parseIp(v);
        return b ? formatIp(b) : v;
      });
      p.ops[op] = Array.isArray(operand) ? values : values[0]!;
    }
    if (isKind) {
      const bad = values.find((v) => !(ENTRY_KINDS as readonly string[]).includes(v));
      if (bad !== undefined) {
        ctx.errors.push({
          path,
          message: `unknown entry kind ${JSON.stringify(bad)}; one of ${ENTRY_KINDS.join(', ')}`,
        });
        continue;
      }
    }
    let test: (v: string) => boolean;
    if (op === 'equals') {
      const want = values[0]!;
      test = (v) => v === want;
    } else if (op === 'in') {
      const set = new Set(values);
      test = (v) => set.has(v);
    } else if (op === 'prefix') {
      const want = values[0]!;
      if (want === '') ctx.warnings.push({ path, message: 'empty prefix matches every value' });
      test = (v) => v.startsWith(want);
    } else {
      let pat: Pattern;
      try {
        pat = op === 'regex' ? compileRegex(values[0]!) : compileGlob(values[0]!);
      } catch (e) {
        ctx.errors.push({ path, message: e instanceof Error ? e.message : String(e) });
        continue;
      }
      if (op === 'regex') lintRegex(values[0]!, path, ctx);
      test = (v) => pat.test(v);
    }
    out.push({ field: p.field, op, values, path, test });
  }
  return out;
}

function lintRegex(expr: string, path: string, ctx: Ctx): void {
  const dots = unescapedHostDots(expr);
  if (dots.length > 0) {
    ctx.warnings.push({
      path,
      message: `unescaped '.' at offset ${dots.join(', ')} matches any character (e.g. 'githubXcom'); write '\\.'`,
    });
  }
  if (expr.startsWith('^') || (expr.endsWith('$') && !expr.endsWith('\\$'))) {
    ctx.warnings.push({ path, message: "redundant '^'/'$': regexes are always full matches" });
  }
}

function parseItem(
  raw: unknown,
  path: string,
  ctx: Ctx,
): { item: MatcherItem; doc: NormalizedItem } | undefined {
  if (!isObject(raw)) {
    ctx.errors.push({ path, message: 'a matcher item must be a mapping of field conditions' });
    return undefined;
  }
  const errorsBefore = ctx.errors.length;
  const pending = new Map<string, Pending>();
  for (const [key, val] of Object.entries(raw)) {
    const kPath = join(path, key);
    if (key === 'extensions') {
      if (!isObject(val)) {
        ctx.errors.push({
          path: kPath,
          message: 'extensions must be a mapping of extension name or OID to condition',
        });
        continue;
      }
      for (const [ek, ev] of Object.entries(val)) {
        const ePath = join(kPath, ek);
        const f = extensionField(ek);
        if (!f) {
          const msg = /^[0-9]+(?:\.[0-9]+)+$/.test(ek)
            ? `only Fulcio extensions (1.3.6.1.4.1.57264.1.*) can be matched, not ${ek}`
            : `unknown extension '${ek}'${suggest(ek, EXTENSION_KEY_NAMES)}`;
          ctx.errors.push({ path: ePath, message: msg });
          continue;
        }
        addOperators(pending, f, ev, ePath, ctx, false);
      }
      continue;
    }
    const regexShort = key.endsWith('RegExp') && key.length > 6;
    const base = regexShort ? key.slice(0, -6) : key;
    const f = topLevelField(base);
    if (!f) {
      ctx.errors.push({
        path: kPath,
        message: `unknown field '${key}'${suggest(key, TOP_LEVEL_FIELD_NAMES)}`,
      });
      continue;
    }
    addOperators(pending, f, val, kPath, ctx, regexShort);
  }
  const conditions: Condition[] = [];
  for (const p of pending.values()) conditions.push(...buildConditions(p, ctx));
  if (pending.size === 0 && ctx.errors.length === errorsBefore) {
    ctx.errors.push({ path, message: 'a matcher item needs at least one condition' });
  }
  if (ctx.errors.length !== errorsBefore) return undefined;
  const doc: NormalizedItem = {};
  for (const p of pending.values()) {
    if (p.field.kind === 'core') doc[p.field.name] = p.ops;
    else (doc.extensions ??= {})[fieldKey(p.field)] = p.ops;
  }
  return { item: { path, conditions }, doc };
}

function parseItems(
  raw: unknown,
  path: string,
  ctx: Ctx,
): { items: MatcherItem[]; docs: NormalizedItem[] } | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    ctx.errors.push({ path, message: 'must be a non-empty list of matcher items' });
    return undefined;
  }
  if (raw.length > RULE_LIMITS.maxItems) {
    ctx.errors.push({ path, message: `more than ${RULE_LIMITS.maxItems} items` });
    return undefined;
  }
  const items: MatcherItem[] = [];
  const docs: NormalizedItem[] = [];
  raw.forEach((r, i) => {
    const res = parseItem(r, join(path, i), ctx);
    if (res) {
      items.push(res.item);
      docs.push(res.doc);
    }
  });
  return items.length === raw.length ? { items, docs } : undefined;
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string, ctx: Ctx): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k))
      ctx.errors.push({ path: join(path, k), message: `unknown key '${k}'${suggest(k, allowed)}` });
  }
}

const NAME_RE = /^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$/;
const NOTIFY_RE = /^[a-z][a-z0-9-]{0,31}:[^\s]{1,200}$/;

function parseRuleAt(raw: unknown, path: string, ctx: Ctx): IdentityRule | undefined {
  const errorsBefore = ctx.errors.length;
  if (!isObject(raw)) {
    ctx.errors.push({ path: path || '(root)', message: 'a rule must be a mapping' });
    return undefined;
  }
  checkKeys(raw, ['apiVersion', 'kind', 'metadata', 'spec'], path, ctx);
  if (raw.apiVersion !== RULE_API_VERSION) {
    ctx.errors.push({ path: join(path, 'apiVersion'), message: `must be '${RULE_API_VERSION}'` });
  }
  if (raw.kind !== RULE_KIND)
    ctx.errors.push({ path: join(path, 'kind'), message: `must be '${RULE_KIND}'` });

  const metadata: RuleDocument['metadata'] = { name: '' };
  const mPath = join(path, 'metadata');
  const m = raw.metadata;
  if (!isObject(m)) {
    ctx.errors.push({ path: mPath, message: 'required mapping with at least a name' });
  } else {
    checkKeys(m, ['name', 'owner', 'description', 'labels'], mPath, ctx);
    if (typeof m.name !== 'string' || !NAME_RE.test(m.name)) {
      ctx.errors.push({
        path: join(mPath, 'name'),
        message:
          'required; lowercase letters, digits, ".", "_", "-", 1-128 characters, starting and ending alphanumeric',
      });
    } else metadata.name = m.name;
    for (const k of ['owner', 'description'] as const) {
      if (m[k] === undefined) continue;
      const s = scalar(m[k], join(mPath, k), ctx);
      if (s !== undefined) metadata[k] = s;
    }
    if (m.labels !== undefined) {
      if (!isObject(m.labels))
        ctx.errors.push({ path: join(mPath, 'labels'), message: 'must be a mapping of strings' });
      else {
        const labels: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.labels)) {
          const s = scalar(v, join(join(mPath, 'labels'), k), ctx);
          if (s !== undefined) labels[k] = s;
        }
        metadata.labels = labels;
      }
    }
  }

  const sPath = join(path, 'spec');
  const spec = raw.spec;
  if (!isObject(spec)) {
    ctx.errors.push({ path: sPath, message: 'required mapping with at least a scope' });
    return undefined;
  }
  checkKeys(spec, ['scope', 'expect', 'action', 'severity', 'notify', 'backfill'], sPath, ctx);
  const scope = parseItems(spec.scope, join(sPath, 'scope'), ctx);
  const expect = spec.expect === undefined ? undefined : parseItems(spec.expect, join(sPath, 'expect'), ctx);
  let action: RuleAction = 'alert';
  if (spec.action !== undefined) {
    if (!(ACTIONS as readonly unknown[]).includes(spec.action)) {
      ctx.errors.push({ path: join(sPath, 'action'), message: `must be one of ${ACTIONS.join(', ')}` });
    } else action = spec.action as RuleAction;
  }
  let severity: Severity = 'medium';
  if (spec.severity !== undefined) {
    if (!(SEVERITIES as readonly unknown[]).includes(spec.severity)) {
      ctx.errors.push({ path: join(sPath, 'severity'), message: `must be one of ${SEVERITIES.join(', ')}` });
    } else severity = spec.severity as Severity;
  }
  const notify: string[] = [];
  if (spec.notify !== undefined) {
    const nPath = join(sPath, 'notify');
    if (!Array.isArray(spec.notify))
      ctx.errors.push({ path: nPath, message: "must be a list of '<channel-type>:<name>'" });
    else
      spec.notify.forEach((n, i) => {
        if (typeof n !== 'string' || !NOTIFY_RE.test(n)) {
          ctx.errors.push({
            path: join(nPath, i),
            message: "must be '<channel-type>:<name>', e.g. 'webhook:sec-hook'",
          });
        } else if (!notify.includes(n)) notify.push(n);
      });
  }
  let backfill: { fromIndex: number } | undefined;
  if (spec.backfill !== undefined) {
    const bPath = join(sPath, 'backfill');
    const b = spec.backfill;
    if (!isObject(b)) ctx.errors.push({ path: bPath, message: 'must be a mapping {fromIndex: N}' });
    else {
      checkKeys(b, ['fromIndex'], bPath, ctx);
      const f = b.fromIndex;
      const n = typeof f === 'string' && /^(?:0|[1-9][0-9]{0,15})$/.test(f) ? Number(f) : f;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
        ctx.errors.push({ path: join(bPath, 'fromIndex'), message: 'must be a non-negative integer' });
      } else backfill = { fromIndex: n };
    }
  }
  if (expect) {
    expect.items.forEach((item) => {
      const hasIssuer = item.conditions.some(
        (c) =>
          (c.field.kind === 'core' && c.field.name === 'issuer') ||
          (c.field.kind === 'extension' &&
            (c.field.oid === OID_FULCIO_ISSUER_V1 || c.field.oid === OID_FULCIO_ISSUER_V2)),
      );
      const keyOnly = item.conditions.every(
        (c) => c.field.kind === 'core' && (c.field.name === 'fingerprint' || c.field.name === 'kind'),
      );
      if (!hasIssuer && !keyOnly) {
        ctx.warnings.push({
          path: item.path,
          message:
            'expect item does not constrain the issuer: a matching subject from any OIDC provider would be accepted',
        });
      }
    });
  }
  if (scope) {
    scope.items.forEach((item) => {
      if (item.conditions.every((c) => c.field.kind === 'core' && c.field.name === 'kind')) {
        ctx.warnings.push({
          path: item.path,
          message: 'scope item only names entry kinds: every entry of those kinds is in scope',
        });
      }
    });
  }
  if (ctx.errors.length !== errorsBefore || !scope || (spec.expect !== undefined && !expect))
    return undefined;
  const document: RuleDocument = {
    apiVersion: RULE_API_VERSION,
    kind: RULE_KIND,
    metadata,
    spec: {
      scope: scope.docs,
      ...(expect ? { expect: expect.docs } : {}),
      action,
      severity,
      notify,
      ...(backfill ? { backfill } : {}),
    },
  };
  return {
    id: metadata.name,
    scope: scope.items,
    ...(expect ? { expect: expect.items } : {}),
    action,
    severity,
    notify,
    ...(backfill ? { backfill } : {}),
    document,
    digest: createHash('sha256').update(canonicalize(document), 'utf8').digest('hex'),
  };
}

function collect(values: Array<{ value: unknown; path: string }>, ctx: Ctx): IdentityRule[] {
  const rules: IdentityRule[] = [];
  const names = new Map<string, string>();
  if (values.length > RULE_LIMITS.maxRules) {
    ctx.errors.push({ path: '(root)', message: `more than ${RULE_LIMITS.maxRules} rules` });
    return rules;
  }
  for (const { value, path } of values) {
    const r = parseRuleAt(value, path, ctx);
    if (!r) continue;
    const prev = names.get(r.id);
    if (prev !== undefined) {
      ctx.errors.push({
        path: join(path, 'metadata') + '.name',
        message: `duplicate rule name '${r.id}' (first at ${prev || '(root)'})`,
      });
      continue;
    }
    names.set(r.id, path);
    rules.push(r);
  }
  return rules;
}

function flattenTop(value: unknown, path: string, out: Array<{ value: unknown; path: string }>): void {
  if (Array.isArray(value)) value.forEach((v, i) => out.push({ value: v, path: join(path, i) }));
  else out.push({ value, path });
}

/**
 * Validates rules given as JSON (the admin API): one rule object or a list of them. Never throws;
 * `rules` holds only the valid ones, `errors` every problem with its path.
 */
export function validateRules(input: unknown): RuleValidation {
  const ctx: Ctx = { errors: [], warnings: [] };
  const values: Array<{ value: unknown; path: string }> = [];
  flattenTop(input, '', values);
  const rules = collect(values, ctx);
  return { rules, errors: ctx.errors, warnings: ctx.warnings };
}

/**
 * Validates rules given as YAML: one or many documents (`---`), each a rule or a list of rules.
 * Never throws; YAML syntax errors are reported with line and column.
 */
export function validateRulesYaml(text: string): RuleValidation {
  const ctx: Ctx = { errors: [], warnings: [] };
  if (typeof text !== 'string') {
    return { rules: [], errors: [{ path: '(root)', message: 'YAML input must be a string' }], warnings: [] };
  }
  if (Buffer.byteLength(text, 'utf8') > RULE_LIMITS.maxYamlBytes) {
    return {
      rules: [],
      errors: [{ path: '(root)', message: `YAML larger than ${RULE_LIMITS.maxYamlBytes} bytes` }],
      warnings: [],
    };
  }
  const docs = parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: true, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [];
  const values: Array<{ value: unknown; path: string }> = [];
  list.forEach((doc, i) => {
    const dPath = `document[${i}]`;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = e.linePos?.[0];
        ctx.errors.push({
          path: pos ? `${dPath} line ${pos.line} column ${pos.col}` : dPath,
          message: e.message.split('\n')[0]!,
        });
      }
      return;
    }
    if (doc.contents === null) return; // empty document (e.g. a trailing '---')
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      ctx.errors.push({ path: dPath, message: e instanceof Error ? e.message : String(e) });
      return;
    }
    if (value === '' || value === null) return;
    flattenTop(value, dPath, values);
  });
  if (ctx.errors.length > 0) return { rules: [], errors: ctx.errors, warnings: ctx.warnings };
  const rules = collect(values, ctx);
  return { rules, errors: ctx.errors, warnings: ctx.warnings };
}

function orThrow(v: RuleValidation): { rules: IdentityRule[]; warnings: RuleIssue[] } {
  if (v.errors.length > 0) {
    const lines = v.errors.map((e) => `${e.path}: ${e.message}`);
    throw new VellumError('INVALID_ARGUMENT', `invalid monitor rules: ${lines.join('; ')}`, {
      errors: v.errors,
      warnings: v.warnings,
    });
  }
  return { rules: v.rules, warnings: v.warnings };
}

/** Parses YAML rules; throws VellumError INVALID_ARGUMENT (details.errors) if any rule is invalid. */
export function parseRulesYaml(text: string): { rules: IdentityRule[]; warnings: RuleIssue[] } {
  return orThrow(validateRulesYaml(text));
}

/** Parses JSON rules (object or list); throws VellumError INVALID_ARGUMENT (details.errors) if any is invalid. */
export function parseRules(input: unknown): { rules: IdentityRule[]; warnings: RuleIssue[] } {
  return orThrow(validateRules(input));
}

/** Parses exactly one JSON rule (the admin API's create/update body). */
export function parseRule(input: unknown): { rule: IdentityRule; warnings: RuleIssue[] } {
  if (Array.isArray(input)) throw new VellumError('INVALID_ARGUMENT', 'expected one rule object, got a list');
  const { rules, warnings } = parseRules(input);
  return { rule: rules[0]!, warnings };
}
