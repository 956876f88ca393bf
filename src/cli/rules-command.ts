import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { VellumError } from '../core/errors';
import {
  IMPORT_SOURCES,
  buildImportedRule,
  cosignKeyRefs,
  diffPolicies,
  importPolicies,
  importsAsScope,
  parseRules,
  type IdentityRule,
  type ImportFile,
  type ImportResult,
  type ImportSource,
} from '../core/monitor';
import { parseScopeArg } from './rules/scope-arg';
import { EXIT, UsageError, exitCodeOf } from './exit-codes';
import { withUsage } from './args';
import { loadRulesFile } from './monitor-command';

const USAGE =
  'vellum rules import --from kyverno|policy-controller|cosign|rekor-monitor FILE... --scope MATCHER [--scope MATCHER...]\n' +
  '                    [--name NAME] [--severity S] [--notify CHANNEL...] [--out FILE]\n' +
  '                    [--apply --server URL --admin-token-file FILE [--replace]]\n' +
  '       vellum rules diff --from SOURCE FILE... (--rules FILE | --server URL --admin-token-file FILE)';

const HELP = `usage: ${USAGE}

import: reads the identities an admission policy accepts (Kyverno ClusterPolicy verifyImages,
policy-controller ClusterImagePolicy authorities, cosign verify lines in shell scripts) and
writes one IdentityRule whose expect list holds them, each item's origin in metadata.sources.
--scope says what the rule watches, as a YAML flow mapping or FIELD=VALUE, e.g.
  --scope 'subjectRegExp=.*@example\\.com'   --scope '{sourceRepositoryOwnerURI: https://github.com/org}'
because a policy says who may sign, not what else might. A rekor-monitor config lists what to
watch, so its identities become the scope of an any-match rule and --scope is not taken.
Constructs with no faithful equivalent (Kyverno conditions, static: pass, CEL policies, ...)
are refused with the construct and the file named. The rule YAML goes to stdout (or --out);
--apply POSTs it to the admin API instead (--replace deletes an API rule of that name first).

diff: compares the identities the policies accept with the expect items of live rules (a rules
file, or the server's rules) and prints each disagreement once. Exit 1 if there is any.

exit codes: 0 ok (diff: no disagreement); 1 diff found disagreements; 2 usage, refused construct
or invalid rule; 3 other failure (network, server)`;

interface Common {
  source: ImportSource;
  files: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

function parseCommon(
  argv: string[],
  extra: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>,
): Common {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        from: { type: 'string' },
        server: { type: 'string' },
        'admin-token-file': { type: 'string' },
        ...extra,
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  const from = values.from;
  if (typeof from !== 'string' || !(IMPORT_SOURCES as readonly string[]).includes(from))
    throw new UsageError(`--from must be one of ${IMPORT_SOURCES.join(', ')}`);
  if (positionals.length === 0) throw new UsageError('give at least one policy FILE');
  return { source: from as ImportSource, files: positionals, values: values as Common['values'] };
}

function readFiles(c: Common): { files: ImportFile[]; keys: Map<string, string> } {
  const files: ImportFile[] = [];
  const keys = new Map<string, string>();
  for (const f of c.files) {
    let text: string;
    try {
      text = readFileSync(resolve(f), 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${f}: ${(e as Error).message}`);
    }
    files.push({ name: f, text });
    // cosign --key files are named relative to where the script runs; try the script's directory.
    if (c.source === 'cosign')
      for (const ref of cosignKeyRefs(text)) {
        if (/^[a-z0-9]+:\/\//.test(ref)) continue; // KMS and k8s:// references have no file
        try {
          keys.set(ref, readFileSync(resolve(dirname(f), ref), 'utf8'));
        } catch {
          // left out: the importer refuses the line, naming the key
        }
      }
  }
  return { files, keys };
}

/** Prints refusals and warnings; a refusal ends the command (exit code of INVALID_RULE). */
function reportImport(r: ImportResult): number | undefined {
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  if (r.refusals.length === 0) return undefined;
  for (const x of r.refusals) process.stderr.write(`refused: ${x.message}\n`);
  process.stderr.write(
    `${r.refusals.length} construct(s) have no faithful rule equivalent; nothing imported\n`,
  );
  return exitCodeOf(new VellumError('INVALID_RULE', 'refused'));
}

async function admin(
  c: Common,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const server = c.values.server;
  const tokenFile = c.values['admin-token-file'];
  if (typeof server !== 'string' || typeof tokenFile !== 'string')
    throw new UsageError('--server URL and --admin-token-file FILE are required');
  let token: string;
  try {
    token = readFileSync(resolve(tokenFile), 'utf8').trim();
  } catch (e) {
    throw new UsageError(`cannot read --admin-token-file ${tokenFile}: ${(e as Error).message}`);
  }
  const res = await fetch(`${server.replace(/\/+$/, '')}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

async function importCommand(argv: string[]): Promise<number> {
  const c = parseCommon(argv, {
    scope: { type: 'string', multiple: true },
    name: { type: 'string' },
    severity: { type: 'string' },
    notify: { type: 'string', multiple: true },
    out: { type: 'string' },
    apply: { type: 'boolean' },
    replace: { type: 'boolean' },
  });
  const scopes = (c.values.scope as string[] | undefined) ?? [];
  if (importsAsScope(c.source) && scopes.length > 0)
    throw new UsageError(
      'a rekor-monitor config already lists what to watch: it becomes the scope; drop --scope',
    );
  if (!importsAsScope(c.source) && scopes.length === 0)
    throw new UsageError(
      '--scope MATCHER is required: a policy says who may sign, not what the rule watches',
    );
  if (c.values.apply === true && c.values.out !== undefined)
    throw new UsageError('give --apply or --out, not both');
  const scope = scopes.map(parseScopeArg);
  const { files, keys } = readFiles(c);
  const imported = importPolicies(c.source, files, keys);
  const refused = reportImport(imported);
  if (refused !== undefined) return refused;
  if (imported.identities.length === 0)
    throw new UsageError('the files accept no identity: nothing to import');
  const name = typeof c.values.name === 'string' ? c.values.name : `imported-${c.source}`;
  const built = buildImportedRule(imported.identities, {
    source: c.source,
    name,
    scope,
    ...(typeof c.values.severity === 'string' ? { severity: c.values.severity } : {}),
    notify: (c.values.notify as string[] | undefined) ?? [],
  });
  for (const w of built.warnings) process.stderr.write(`warning: ${w.path}: ${w.message}\n`);
  if (built.errors.length > 0) {
    for (const e of built.errors) process.stderr.write(`invalid: ${e.path}: ${e.message}\n`);
    return exitCodeOf(new VellumError('INVALID_RULE', 'invalid'));
  }
  process.stderr.write(
    `${imported.identities.length} identity item(s) from ${files.length} file(s) -> rule '${name}'\n`,
  );
  if (c.values.apply === true) {
    if (c.values.replace === true) {
      const del = await admin(c, 'DELETE', `/v1/monitor/rules/${encodeURIComponent(name)}`);
      if (del.status !== 204 && del.status !== 404) return failed('DELETE', del);
    }
    const res = await admin(c, 'POST', '/v1/monitor/rules', built.document);
    if (res.status !== 201) return failed('POST', res);
    const digest = (res.json as { digest?: string }).digest;
    process.stdout.write(`applied rule '${name}' (digest ${digest})\n`);
    return EXIT.ok;
  }
  const yaml = stringify(built.document, { lineWidth: 0 });
  if (typeof c.values.out === 'string') writeFileSync(resolve(c.values.out), yaml);
  else process.stdout.write(yaml);
  return EXIT.ok;
}

function failed(what: string, res: { status: number; json: unknown }): number {
  process.stderr.write(`${what} /v1/monitor/rules: HTTP ${res.status} ${JSON.stringify(res.json)}\n`);
  // A 4xx is the operator's to fix (name taken, token wrong); a 5xx may pass on retry.
  return res.status >= 400 && res.status < 500 ? EXIT.usage : EXIT.error;
}

/** The live rules, or the exit code when the server refused to list them. */
async function liveRules(c: Common): Promise<IdentityRule[] | number> {
  if (typeof c.values.rules === 'string') return loadRulesFile(resolve(c.values.rules));
  const res = await admin(c, 'GET', '/v1/monitor/rules');
  if (res.status !== 200) return failed('GET', res);
  return parseRules((res.json as { rules: Array<{ rule: unknown }> }).rules.map((r) => r.rule)).rules;
}

async function diffCommand(argv: string[]): Promise<number> {
  const c = parseCommon(argv, { rules: { type: 'string' } });
  if (c.values.rules !== undefined && c.values.server !== undefined)
    throw new UsageError('give --rules FILE or --server URL, not both');
  const { files, keys } = readFiles(c);
  const imported = importPolicies(c.source, files, keys);
  const refused = reportImport(imported);
  if (refused !== undefined) return refused;
  const rules = await liveRules(c);
  if (typeof rules === 'number') return rules;
  const { disagreements, errors } = diffPolicies(c.source, imported.identities, rules);
  for (const e of errors) process.stderr.write(`invalid: ${e.path}: ${e.message}\n`);
  for (const d of disagreements) {
    const head =
      d.side === 'policy-only'
        ? 'accepted by policy, expected by no rule'
        : 'expected by rule, accepted by no policy';
    process.stdout.write(`${head}: ${JSON.stringify(d.item)}\n`);
    for (const w of d.where) process.stdout.write(`  ${w}\n`);
  }
  process.stdout.write(`${disagreements.length} disagreement(s)\n`);
  if (errors.length > 0) return EXIT.usage;
  return disagreements.length === 0 ? EXIT.ok : EXIT.verificationFailed;
}

/** `vellum rules import|diff`. */
export function rulesCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || rest.includes('--help')) {
    process.stdout.write(HELP + '\n');
    return Promise.resolve(sub === undefined ? EXIT.usage : EXIT.ok);
  }
  if (sub === 'import') return withUsage(() => importCommand(rest), USAGE);
  if (sub === 'diff') return withUsage(() => diffCommand(rest), USAGE);
  process.stderr.write(`unknown subcommand rules ${JSON.stringify(sub)}\nusage: ${USAGE}\n`);
  return Promise.resolve(EXIT.usage);
}
