/**
 * Matcher items of identity rules: field names (core fields, Fulcio extensions by name or OID),
 * operators and their values, normalised into conditions, with the lint that catches likely
 * mistakes (unanchored host dots in regexes, misspelt keys).
 */
import {
  fulcioArc,
  fulcioField,
  fulcioFieldByName,
  kebabToCamel,
  FULCIO_FIELDS,
  formatIp,
  parseIp,
} from '../x509';
import { Pattern, compileGlob, compileRegex, unescapedHostDots } from './regex';
import {
  RULE_LIMITS,
  CORE_FIELDS,
  CoreField,
  OPERATORS,
  Operator,
  ENTRY_KINDS,
  FieldRef,
  Condition,
  MatcherItem,
  OperatorObject,
  NormalizedItem,
  RuleIssue,
} from './rule-types';

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const join = (path: string, key: string | number): string =>
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

export function suggest(key: string, candidates: readonly string[]): string {
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

export interface Ctx {
  errors: RuleIssue[];
  warnings: RuleIssue[];
}

export function scalar(v: unknown, path: string, ctx: Ctx, what = 'value'): string | undefined {
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

export function parseItems(
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
