import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { LogPublicKey } from '../core/keys';
import { decodeWebhookSecret, validateRulesYaml, type IdentityRule } from '../core/monitor';
import { LogTailer, type PassResult } from './monitor/tailer';
import { LOG_READER_OPTIONS, parse, positiveInt, UsageError, withUsage } from './args';
import { EXIT } from './exit-codes';
import { parseVariable } from '../modules/config/config-schema';

const USAGE =
  'vellum monitor --log URL --public-key FILE --rules FILE [--state FILE] [--once] [--interval S] ' +
  '[--concurrency N] [--origin-hostname NAME] [--start-at-end] [--save-every N] ' +
  '[--tiles] [--webhook-url URL --webhook-secret-file FILE]';

const HELP = `usage: ${USAGE}

Tails a Rekor v1-compatible log (or, with --tiles, a C2SP tlog-tiles log) and checks it: every checkpoint signature, consistency with the
checkpoint seen last time, every entry's leaf hash, and the root rebuilt from all entries. Rule
matches (monitor.vellum/v1 IdentityRule YAML) are printed to stdout as JSON events, one per
line, and optionally POSTed to a webhook (Standard Webhooks signature; secret from
--webhook-secret-file or VELLUM_WEBHOOK_SECRET). Progress goes to stderr.

  --state FILE        where the verified checkpoint and compact range are kept
                      (default ~/.vellum/monitor/<hash of URL>.json); written atomically
  --once              one pass, then exit (the default without --interval)
  --interval S        run a pass every S seconds until interrupted
  --concurrency N     retrieve requests in flight (10 entries each; default 16), or with
                      --tiles entry bundles in flight (256 entries each)
  --tiles             follow the log through its C2SP tlog-tiles API (GET /checkpoint,
                      /tile/<L>/<N>, /tile/entries/<N>): consistency from tile hashes,
                      entries from entry bundles, instead of the Rekor v1 proof endpoints
  --start-at-end      with no state file, start from the current checkpoint instead of index 0
  --save-every N      during a scan, save progress every N entries (and every 10 s; default
                      10000): a crash or SIGINT/SIGTERM mid-scan resumes there, not from the
                      start. Progress is trusted only once the scan's root verifies.

exit codes: 0 ok (or stopped by a signal in --interval mode); 1 the log is inconsistent
(log.inconsistent printed); 2 usage; 3 other failure, or a --once pass stopped by a signal`;

export function loadRulesFile(path: string): IdentityRule[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --rules ${path}: ${(e as Error).message}`);
  }
  const v = validateRulesYaml(text);
  if (v.errors.length > 0)
    throw new UsageError(
      `invalid rules in ${path}:\n${v.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`,
    );
  for (const w of v.warnings) process.stderr.write(`warning: ${path}: ${w.path}: ${w.message}\n`);
  return v.rules;
}

function codeOf(r: PassResult): number {
  return r.status === 'ok' ? EXIT.ok : r.status === 'inconsistent' ? EXIT.verificationFailed : EXIT.error;
}

/** `vellum monitor`: the independent monitor (see src/cli/monitor/tailer.ts). */
export function monitorCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP + '\n');
    return Promise.resolve(0);
  }
  return withUsage(async () => {
    const a = parse(argv, {
      ...LOG_READER_OPTIONS,
      rules: { type: 'string' },
      once: { type: 'boolean', default: false },
      interval: { type: 'string' },
      concurrency: { type: 'string' },
      'origin-hostname': { type: 'string' },
      'start-at-end': { type: 'boolean', default: false },
      'save-every': { type: 'string' },
      'webhook-url': { type: 'string' },
      'webhook-secret-file': { type: 'string' },
    });
    if (typeof a.log !== 'string') throw new UsageError('--log URL is required');
    let logUrl: URL;
    try {
      logUrl = new URL(a.log);
    } catch {
      throw new UsageError(`--log ${a.log} is not a URL`);
    }
    if (logUrl.protocol !== 'http:' && logUrl.protocol !== 'https:')
      throw new UsageError('--log must be http(s)');
    if (typeof a['public-key'] !== 'string') throw new UsageError('--public-key FILE is required');
    if (typeof a.rules !== 'string') throw new UsageError('--rules FILE is required');
    if (a.once === true && a.interval !== undefined)
      throw new UsageError('give --once or --interval, not both');
    const interval = a.interval === undefined ? undefined : positiveInt('interval', a.interval, 60);
    const concurrency = positiveInt('concurrency', a.concurrency, 16);
    if (concurrency > 256) throw new UsageError('--concurrency must be at most 256');
    const saveEvery = positiveInt('save-every', a['save-every'], 10_000);
    let publicKey: LogPublicKey;
    try {
      publicKey = LogPublicKey.fromPem(readFileSync(resolve(a['public-key']), 'utf8'));
    } catch (e) {
      throw new UsageError(`--public-key ${a['public-key']}: ${(e as Error).message}`);
    }
    const rules = loadRulesFile(resolve(a.rules));
    const base = a.log.replace(/\/+$/, '');
    const statePath = resolve(
      typeof a.state === 'string'
        ? a.state
        : join(
            homedir(),
            '.vellum',
            'monitor',
            `${createHash('sha256').update(base).digest('hex').slice(0, 16)}.json`,
          ),
    );
    let webhook: { url: string; secret: string } | undefined;
    if (a['webhook-url'] !== undefined) {
      const secret =
        typeof a['webhook-secret-file'] === 'string'
          ? readFileSync(resolve(a['webhook-secret-file']), 'utf8').trim()
          : parseVariable('VELLUM_WEBHOOK_SECRET', process.env);
      if (secret === undefined || secret === '')
        throw new UsageError(
          '--webhook-url needs --webhook-secret-file FILE or VELLUM_WEBHOOK_SECRET (whsec_...)',
        );
      try {
        decodeWebhookSecret(secret);
      } catch (e) {
        throw new UsageError(`webhook secret: ${(e as Error).message}`);
      }
      webhook = { url: String(a['webhook-url']), secret };
    } else if (a['webhook-secret-file'] !== undefined) {
      throw new UsageError('--webhook-secret-file needs --webhook-url');
    }

    // A signal stops the pass in progress after saving its progress, instead of killing it
    // mid-scan (the next run would then redo everything since the last periodic save).
    const abort = new AbortController();
    const tailer = new LogTailer({
      logUrl: base,
      publicKey,
      rules,
      statePath,
      concurrency,
      tiles: a.tiles === true,
      saveEveryEntries: saveEvery,
      signal: abort.signal,
      ...(typeof a['origin-hostname'] === 'string' ? { originHostname: a['origin-hostname'] } : {}),
      startAtEnd: a['start-at-end'] === true,
      ...(webhook ? { webhook } : {}),
      out: (line) => process.stdout.write(line + '\n'),
      err: (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
    });
    process.stderr.write(
      `monitoring ${base} (log ID ${publicKey.logIdHex}), ${rules.length} rule(s), state ${statePath}\n`,
    );
    let stop = false;
    let wake: (() => void) | undefined;
    const onSignal = (): void => {
      stop = true;
      abort.abort();
      wake?.();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      if (interval === undefined) return codeOf(await tailer.pass());
      for (;;) {
        const r = await tailer.pass();
        // Tampering ends the loop: the operator must look before anything else is trusted.
        if (r.status === 'inconsistent') return EXIT.verificationFailed;
        // Asked to stop: that is how loop mode ends, whether or not a pass was cut short.
        if (stop) return r.status === 'interrupted' ? EXIT.ok : codeOf(r);
        await new Promise<void>((res) => {
          const timer = setTimeout(res, interval * 1000);
          wake = () => {
            clearTimeout(timer);
            res();
          };
        });
        if (stop) return codeOf(r);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }, USAGE);
}
