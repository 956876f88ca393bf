/**
 * From admission policies to identity rules (docs/monitoring.md, "From your admission policy to a
 * monitoring rule"): import the identities a Kyverno, policy-controller, cosign or rekor-monitor
 * configuration accepts, build the rule that expects them, and compare policies with live rules.
 */
import { canonicalize } from '../../jcs';
import { validateRules } from '../rules';
import type { IdentityRule, NormalizedItem, RuleIssue } from '../rule-types';
import { importCosignScript } from './cosign-flags';
import { importKyverno } from './kyverno';
import { importPolicyController } from './policy-controller';
import { importRekorMonitor } from './rekor-monitor';
import type { ImportFile, ImportOrigin, ImportResult, ImportSource, ImportedIdentity } from './types';

export * from './types';
export { unanchoredToFullMatch, kyvernoWildcardToGlob } from './source-regex';
export { cosignKeyRefs } from './cosign-flags';

/** Identities of every file; `keys` holds the PEM of cosign `--key` files the caller could read. */
export function importPolicies(
  source: ImportSource,
  files: readonly ImportFile[],
  keys: ReadonlyMap<string, string> = new Map(),
): ImportResult {
  const out: ImportResult = { identities: [], refusals: [], warnings: [] };
  for (const f of files) {
    if (source === 'kyverno') importKyverno(f, out);
    else if (source === 'policy-controller') importPolicyController(f, out);
    else if (source === 'cosign') importCosignScript(f, out, keys);
    else importRekorMonitor(f, out);
  }
  return out;
}

/** rekor-monitor lists what to watch (any match alerts); the admission tools list who may sign. */
export const importsAsScope = (source: ImportSource): boolean => source === 'rekor-monitor';

export interface ImportedRuleOptions {
  readonly source: ImportSource;
  readonly name: string;
  /** Matcher items (rule syntax) naming what the rule watches; required unless importsAsScope. */
  readonly scope?: readonly unknown[];
  readonly severity?: string;
  readonly notify?: readonly string[];
}

function originSource(item: string, o: ImportOrigin): Record<string, string> {
  return {
    item,
    file: o.file,
    ...(o.policy ? { policy: o.policy } : {}),
    ...(o.rule ? { rule: o.rule } : {}),
    path: o.path,
  };
}

/**
 * The rule document (rule YAML as plain data) for imported identities: one item per distinct
 * identity, `metadata.sources` naming every place each came from. `errors` holds the rule
 * validator's findings (for example a translated regex Vellum refuses), `rule` the parsed rule.
 */
export function buildImportedRule(
  identities: readonly ImportedIdentity[],
  opts: ImportedRuleOptions,
): { document: Record<string, unknown>; rule?: IdentityRule; errors: RuleIssue[]; warnings: RuleIssue[] } {
  const asScope = importsAsScope(opts.source);
  const list = asScope ? 'scope' : 'expect';
  const items: unknown[] = [];
  const keys = new Map<string, number>();
  const sources: Array<Record<string, string>> = [];
  for (const id of identities) {
    const key = canonicalize(id.item);
    let at = keys.get(key);
    if (at === undefined) {
      at = items.length;
      keys.set(key, at);
      items.push(id.item);
    }
    sources.push(originSource(`${list}[${at}]`, id.origin));
  }
  const spec: Record<string, unknown> = asScope
    ? { scope: items }
    : { scope: [...(opts.scope ?? [])], expect: items };
  if (opts.severity !== undefined) spec.severity = opts.severity;
  if (opts.notify !== undefined && opts.notify.length > 0) spec.notify = [...opts.notify];
  const document = {
    apiVersion: 'monitor.vellum/v1',
    kind: 'IdentityRule',
    metadata: {
      name: opts.name,
      description: `imported from ${opts.source}: ${[...new Set(identities.map((i) => i.origin.file))].join(', ')}`,
      sources,
    },
    spec,
  };
  const v = validateRules(document);
  return { document, ...(v.rules[0] ? { rule: v.rules[0] } : {}), errors: v.errors, warnings: v.warnings };
}

export interface Disagreement {
  /** `policy-only`: a policy accepts it and no rule expects it; `rule-only`: the other way round. */
  readonly side: 'policy-only' | 'rule-only';
  readonly item: NormalizedItem;
  /** Where it is: `file policy/rule path` for policies, `rule <name> expect[i]` for rules. */
  readonly where: string[];
}

function describeOrigin(o: ImportOrigin): string {
  return [o.file, o.policy && `policy ${o.policy}`, o.rule && `rule ${o.rule}`, o.path]
    .filter(Boolean)
    .join(' ');
}

/**
 * Which identities the policies accept that no live rule expects, and which expected items no
 * policy accepts. Items compare in their normalised rule form, so `issuer: x` and
 * `issuer: {equals: x}` are the same identity; each disagreement appears once, with every place
 * it occurs. A rule's items are its `expect` list (or, for rules without one, its `scope`).
 */
export function diffPolicies(
  source: ImportSource,
  identities: readonly ImportedIdentity[],
  rules: readonly IdentityRule[],
): { disagreements: Disagreement[]; errors: RuleIssue[] } {
  const policy = new Map<string, { item: NormalizedItem; where: string[] }>();
  const errors: RuleIssue[] = [];
  identities.forEach((id, i) => {
    // Normalised one at a time so one bad item is reported with its origin, not the whole set.
    const built = buildImportedRule([id], { source, name: 'diff', scope: [{ subject: 'x' }] });
    const doc = built.rule?.document.spec;
    const item = importsAsScope(source) ? doc?.scope[0] : doc?.expect?.[0];
    if (!item) {
      errors.push(
        ...built.errors.map((e) => ({ path: `${describeOrigin(id.origin)} (#${i})`, message: e.message })),
      );
      return;
    }
    const key = canonicalize(item);
    const e = policy.get(key) ?? { item, where: [] };
    e.where.push(describeOrigin(id.origin));
    policy.set(key, e);
  });
  const live = new Map<string, { item: NormalizedItem; where: string[] }>();
  for (const r of rules) {
    const spec = r.document.spec;
    const [name, items] = spec.expect ? ['expect', spec.expect] : ['scope', spec.scope];
    items.forEach((item, i) => {
      const key = canonicalize(item);
      const e = live.get(key) ?? { item, where: [] };
      e.where.push(`rule ${r.id} ${name}[${i}]`);
      live.set(key, e);
    });
  }
  const disagreements: Disagreement[] = [];
  for (const [k, v] of policy) if (!live.has(k)) disagreements.push({ side: 'policy-only', ...v });
  for (const [k, v] of live) if (!policy.has(k)) disagreements.push({ side: 'rule-only', ...v });
  return { disagreements, errors };
}
