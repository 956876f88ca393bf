#!/usr/bin/env node
import 'reflect-metadata';
import { EXIT, exitCodeOf } from './exit-codes';

const USAGE = `usage: vellum <command> [options]

commands:
  serve                       run the log (configuration from the environment, see README)
  witness                     run a C2SP tlog-witness (ROLE=witness; see docs/witness.md)
  keygen --out FILE [--algorithm ecdsa-p256|ed25519]
                              write a new log signing key (mode 0600) and print its public key
  verify --log URL --public-key FILE (--uuid ID | --index N | --entry FILE) [--state FILE] [--tiles] [--write-proof FILE]
                              verify an entry, its SET and inclusion proof, and the log's consistency
                              with the checkpoint seen last time
  verify --offline --public-key FILE (--entry FILE | --bundle FILE | --tlog-proof FILE --leaf-data FILE)
         [--witness VKEY ... [--witness-quorum K]]
                              the same evidence with no network: a saved entry, a Sigstore bundle (v1 and v2
                              entries) or a C2SP tlog-proof, and the checkpoint's witness cosignatures
  openapi [--out FILE]        write the OpenAPI document (stdout without --out)
  trust-root --server URL [--out FILE] [--fulcio-root PEM] [--tsa-chain PEM]
                              write the log's Sigstore TrustedRoot (for cosign --trusted-root, sigstore-js)
  signing-config --server URL [--out FILE] [--rekor-api 1|2] [--ca-url URL] [--oidc-url URL] [--tsa-url URL]
                              write the log's Sigstore SigningConfig v0.2 (for cosign --signing-config)
  monitor --log URL --public-key FILE --rules FILE [--state FILE] [--once] [--interval S]
          [--concurrency N] [--origin-hostname NAME] [--start-at-end] [--tiles]
                              independent monitor: tail a Rekor v1 log (or its C2SP tiles), verify checkpoints, consistency
                              and the root rebuilt from every entry, apply identity rules (monitor --help)
  rules import --from kyverno|policy-controller|cosign|rekor-monitor FILE... --scope MATCHER [--apply ...]
                              turn the identities an admission policy accepts into an IdentityRule (rules --help)
  rules diff --from SOURCE FILE... (--rules FILE | --server URL --admin-token-file FILE)
                              identities a policy accepts that no rule expects, and the other way round
  bench [--concurrency N,N...] [--rates R,R...] [--duration S] [--step-sec S] [--skip-open] [--svg FILE]
        [--workers N] [--profile DIR] [--tile-entries N] [--skip-tiles] [--only-tiles]
                              start a fresh server; closed loop at 16/64/256 clients, open loop at fixed offered
                              rates (latency from the intended send time), the v2 API, then a tile-mode monitor
                              scan of a --tile-entries log (default 100,000) and tile reads/s
  bench --scale [--scale-entries N]
                              write N entries (default 1,000,000), then bytes/entry, start-up time, proof latency
                              and append throughput at that size (not in CI)
  bench --distributed [--duration S] [--concurrency N] [--api N] [--redis-url URL] [--pg-admin-url URL]
                              the same against ROLE=api processes and a ROLE=sequencer on Redis + PostgreSQL
`;

type Command = (argv: string[]) => Promise<number>;

/** Each command's module is loaded only when it runs (`serve` pulls in Nest, `bench` the bench code). */
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  serve: async () => (await import('./serve')).serveCommand,
  // The witness role under its own name; ROLE in the environment is overridden.
  witness: async () => {
    const { serveCommand } = await import('./serve');
    return (argv: string[]) => {
      process.env.ROLE = 'witness';
      return serveCommand(argv);
    };
  },
  keygen: async () => (await import('./keygen')).keygenCommand,
  verify: async () => (await import('./verify')).verifyCommand,
  openapi: async () => (await import('./openapi')).openapiCommand,
  'trust-root': async () => (await import('./trust')).trustRootCommand,
  'signing-config': async () => (await import('./trust')).signingConfigCommand,
  monitor: async () => (await import('./monitor-command')).monitorCommand,
  rules: async () => (await import('./rules-command')).rulesCommand,
  bench: async () => (await import('../bench/http-bench')).benchCommand,
};

/** Exit codes (EXIT in exit-codes.ts): 0 success, 1 verification failed, 2 usage or configuration error, 3 other failure. */
async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== undefined && Object.hasOwn(COMMANDS, cmd)) return (await COMMANDS[cmd]!())(rest);
  if (cmd === undefined || ['help', '--help', '-h'].includes(cmd)) {
    process.stdout.write(USAGE);
    return cmd === undefined ? EXIT.usage : EXIT.ok;
  }
  process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
  return EXIT.usage;
}

main(process.argv.slice(2)).then(
  (code) => {
    // `serve` keeps running: it returns -1 and exits from its signal handler instead.
    if (code >= 0) process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`vellum: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = exitCodeOf(e);
  },
);
