/** The identity rule format (docs/monitoring.md, "Rules"): its constants, limits and parsed types. */

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
  metadata: {
    name: string;
    owner?: string;
    description?: string;
    labels?: Record<string, string>;
    /** Where imported items came from (`vellum rules import`): item path, file, policy, rule. */
    sources?: RuleSource[];
  };
  spec: {
    scope: NormalizedItem[];
    expect?: NormalizedItem[];
    action: RuleAction;
    severity: Severity;
    notify: string[];
    backfill?: { fromIndex: number };
  };
}
export const RULE_SOURCE_KEYS = ['item', 'file', 'policy', 'rule', 'path'] as const;
export type RuleSource = Partial<Record<(typeof RULE_SOURCE_KEYS)[number], string>>;
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
