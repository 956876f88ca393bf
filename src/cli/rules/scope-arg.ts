import { parse } from 'yaml';
import { UsageError } from '../exit-codes';

/**
 * One `--scope` argument as a matcher item: a YAML flow mapping (`{issuer: x, subjectRegExp: y}`)
 * or the short `FIELD=VALUE` (`sourceRepositoryOwnerURI=https://github.com/org`). The rule
 * validator checks the fields; this only shapes the argument.
 */
export function parseScopeArg(arg: string): Record<string, unknown> {
  const t = arg.trim();
  if (t.startsWith('{')) {
    let v: unknown;
    try {
      v = parse(t, { schema: 'failsafe' });
    } catch (e) {
      throw new UsageError(`--scope ${arg}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      throw new UsageError(`--scope ${arg}: not a mapping`);
    return v as Record<string, unknown>;
  }
  const eq = t.indexOf('=');
  if (eq <= 0) throw new UsageError(`--scope ${arg}: give FIELD=VALUE or a YAML mapping {FIELD: VALUE}`);
  return { [t.slice(0, eq)]: t.slice(eq + 1) };
}
