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
import { OID_FULCIO_ISSUER_V1, OID_FULCIO_ISSUER_V2 } from '../x509';
import {
  RULE_API_VERSION,
  RULE_KIND,
  RULE_LIMITS,
  ACTIONS,
  RuleAction,
  SEVERITIES,
  Severity,
  RuleDocument,
  IdentityRule,
  RuleIssue,
  RuleValidation,
  RULE_SOURCE_KEYS,
  RuleSource,
} from './rule-types';
import { isObject, join, suggest, scalar, parseItems, Ctx } from './rule-conditions';

export * from './rule-types';

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string, ctx: Ctx): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k))
      ctx.errors.push({ path: join(path, k), message: `unknown key '${k}'${suggest(k, allowed)}` });
  }
}

/** `v` if it is one of `allowed`; else `fallback`, and an error unless `v` is absent. */
function oneOf<T extends string>(v: unknown, allowed: readonly T[], fallback: T, path: string, ctx: Ctx): T {
  if (v === undefined) return fallback;
  if ((allowed as readonly unknown[]).includes(v)) return v as T;
  ctx.errors.push({ path, message: `must be one of ${allowed.join(', ')}` });
  return fallback;
}

function parseSources(raw: unknown, path: string, ctx: Ctx): RuleSource[] {
  const out: RuleSource[] = [];
  if (!Array.isArray(raw) || raw.length > RULE_LIMITS.maxRules * RULE_LIMITS.maxItems) {
    ctx.errors.push({ path, message: 'must be a list of {item, file, policy, rule, path}' });
    return out;
  }
  raw.forEach((s, i) => {
    const sPath = join(path, i);
    if (!isObject(s)) {
      ctx.errors.push({ path: sPath, message: 'must be a mapping of strings' });
      return;
    }
    checkKeys(s, RULE_SOURCE_KEYS, sPath, ctx);
    const src: RuleSource = {};
    for (const k of RULE_SOURCE_KEYS) {
      if (s[k] === undefined) continue;
      const v = scalar(s[k], join(sPath, k), ctx);
      if (v !== undefined) src[k] = v;
    }
    out.push(src);
  });
  return out;
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
    checkKeys(m, ['name', 'owner', 'description', 'labels', 'sources'], mPath, ctx);
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
    if (m.sources !== undefined) metadata.sources = parseSources(m.sources, join(mPath, 'sources'), ctx);
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
  const action = oneOf<RuleAction>(spec.action, ACTIONS, 'alert', join(sPath, 'action'), ctx);
  const severity = oneOf<Severity>(spec.severity, SEVERITIES, 'medium', join(sPath, 'severity'), ctx);
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
