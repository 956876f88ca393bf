/**
 * `vellum serve` as a child process, for the benches and the tests alike: spawn the compiled CLI,
 * collect its output, wait for the line that says where it listens, and stop it again. Also the
 * two chores every multi-process run has: a signing key file for the sequencers, and removing a
 * run's keys from a shared Redis.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import IORedis from 'ioredis';

/** The compiled CLI: <out>/src/bench -> <out>/src/cli/main.js. */
export const CLI_MAIN = resolve(__dirname, '..', 'cli', 'main.js');

const LISTENING = /vellum listening on (\S+)\n/;

export interface ServeProcess {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code once the process is gone (null after a signal). */
  readonly exited: Promise<number | null>;
  /** stdout and stderr interleaved as they arrived. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** SIGKILL, resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful close), SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface ServeOptions {
  /** Names the process in startup errors. */
  readonly name: string;
  readonly env: NodeJS.ProcessEnv;
  /** Node flags before the script (--cpu-prof ...). */
  readonly nodeArgs?: readonly string[];
  /**
   * Decides from the output so far whether the server is up and returns its URL; the default
   * waits for the "vellum listening on URL" line. A throw fails the start with that error.
   */
  readonly ready?: (out: { stdout: string; all: string }) => string | undefined;
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Starts `vellum serve` and resolves once `ready` says it is up (60 s at most). */
export async function spawnServe(o: ServeOptions): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), CLI_MAIN, 'serve'], {
    env: o.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let all = '';
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    all += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    all += d.toString();
  });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const ready = o.ready ?? ((out) => LISTENING.exec(out.all)?.[1]);
  const url = await new Promise<string>((res, rej) => {
    const finish = (settle: () => void) => {
      clearInterval(poll);
      clearTimeout(timer);
      settle();
    };
    const timer = setTimeout(
      () => finish(() => rej(new Error(`${o.name} did not start in 60 s:\n${all}`))),
      60_000,
    );
    const poll = setInterval(() => {
      try {
        const found = ready({ stdout, all });
        if (found !== undefined) finish(() => res(found));
      } catch (e) {
        finish(() => rej(e as Error));
      }
    }, 20);
    void exited.then((code) =>
      finish(() => rej(new Error(`${o.name} exited with ${code} during startup:\n${all}`))),
    );
  });
  return {
    name: o.name,
    url,
    child,
    exited,
    output: () => all,
    stdout: () => stdout,
    stderr: () => stderr,
    async kill9() {
      if (running(child)) child.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 20_000) {
      if (running(child)) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** A bench server's environment: a fresh embedded log on 127.0.0.1:port, whatever the caller's shell sets. */
export function benchServerEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    LOG_HOSTNAME: `127.0.0.1:${port}`,
  };
  delete env.SIGNING_KEY_PATH;
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.ROLE;
  return env;
}

/** A fresh P-256 signing key as a PKCS#8 PEM file (mode 0600), as the sequencers load it. */
export function writeP256KeyFile(path: string): void {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
}

/**
 * Deletes every key under `prefix` (a run's queue and results stream) from a Redis. With
 * `bestEffort` an unreachable Redis is not an error (cleanup after an outage test or a bench).
 */
export async function deleteRedisKeys(url: string, prefix: string, bestEffort = false): Promise<void> {
  const r = new IORedis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } catch (e) {
    if (!bestEffort) throw e;
  } finally {
    r.disconnect();
  }
}
