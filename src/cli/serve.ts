import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig, VellumConfig } from '../modules/config/config';
import { LogIdentity } from '../modules/identity/log-identity';
import { startServer } from '../main';

/**
 * `vellum serve`: the roles ROLE names (default all: every role in one process). Returns -1 (keep running) once listening; the
 * process ends from the signal handler after a graceful close.
 */
export async function serveCommand(argv: string[]): Promise<number> {
  if (argv.length > 0) {
    process.stderr.write(
      `serve takes no arguments (configuration comes from the environment), got ${argv.join(' ')}\n`,
    );
    return 2;
  }
  let config: VellumConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`config error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  let server;
  try {
    server = await startServer(config);
  } catch (e) {
    process.stderr.write(`vellum: startup failed: ${e instanceof Error ? e.message : String(e)}\n`);
    // A boot that failed half-way leaves what did start (worker threads, database and Redis
    // connections) holding the event loop open; exit instead of lingering as a zombie server.
    process.exit(1);
  }
  if (config.role === 'witness') {
    // A witness has no log identity; what its operators hand to logs is its verifier key.
    const { WitnessService } =
      require('../modules/witness/witness.service') as typeof import('../modules/witness/witness.service');
    const vkey = server.app.get(WitnessService).vkey;
    if (config.logFormat === 'json') {
      new Logger('Vellum').log({
        text: `vellum listening on ${server.url}`,
        url: server.url,
        witnessVkey: vkey,
      });
    } else process.stdout.write(`vellum listening on ${server.url}\nwitness vkey ${vkey}\n`);
  } else {
    const identity = server.app.get(LogIdentity);
    if (config.logFormat === 'json') {
      // Every stdout line stays one JSON object, so a collector never sees a stray text line.
      new Logger('Vellum').log({
        text: `vellum listening on ${server.url}`,
        url: server.url,
        treeId: identity.treeId,
        logId: identity.logIdHex,
        signerName: identity.hostname,
        publicKey: identity.publicKey.pem,
      });
    } else {
      process.stdout.write(
        `vellum listening on ${server.url}\n` +
          `treeID ${identity.treeId}\n` +
          `logID ${identity.logIdHex}\n` +
          `checkpoint signer name ${identity.hostname}\n` +
          identity.publicKey.pem,
      );
    }
  }

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      // A second signal while draining: give up on the graceful path.
      process.exit(1);
    }
    closing = true;
    if (config.logFormat === 'json') new Logger('Vellum').log(`${signal}: shutting down`);
    else process.stdout.write(`${signal}: shutting down\n`);
    server.app.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`vellum: error during shutdown: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return -1;
}
