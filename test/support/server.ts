/**
 * Starts the real Vellum server (`vellum serve` from the compiled tree this test runs from) as a
 * child process on a free port with its own DATA_DIR, and tells the test what it announced.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/bench/free-port';
import { spawnServe } from '../../src/bench/server-process';
export { freePort } from '../../src/bench/free-port';
export { CLI_MAIN } from '../../src/bench/server-process';
import { LogContext, logKeyFromPem } from './verifier';

export function tempDir(prefix = 'vellum-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly publicKeyPem: string;
  readonly ctx: LogContext;
  output(): string;
  /** SIGTERM and wait for the exit (graceful close). */
  stop(): Promise<number | null>;
  /** SIGTERM, wait, then delete DATA_DIR if this helper created it. */
  dispose(): Promise<void>;
}

export interface StartOptions {
  readonly dataDir?: string;
  readonly port?: number;
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * A test server's environment: an embedded log on 127.0.0.1:port in `dataDir`, whatever the
 * caller's shell sets; keys, databases, Redis and the role only as `extra` gives them.
 */
export function testServerEnv(
  dataDir: string,
  port: number,
  extra: Readonly<Record<string, string>> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_HOSTNAME: `127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
    BATCH_MAX_AGE_MS: '20',
    NO_PROXY: '127.0.0.1,localhost',
    ...extra,
  };
  for (const k of ['SIGNING_KEY_PATH', 'PUBLIC_KEY_PATH', 'DATABASE_URL', 'REDIS_URL', 'ROLE'])
    if (!extra[k]) delete env[k];
  return env;
}

export async function startTestServer(opts: StartOptions = {}): Promise<TestServer> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? tempDir();
  const port = opts.port ?? (await freePort());
  const env = testServerEnv(dataDir, port, opts.env);

  const proc = await spawnServe({
    name: 'server',
    env,
    // The public key is printed after the listening line; the test wants both.
    ready: (out) => /vellum listening on (\S+)\n[\s\S]*-----END PUBLIC KEY-----\n/.exec(out.all)?.[1],
  });
  const { url, child } = proc;
  const treeId = /treeID ([0-9]+)/.exec(proc.output())![1];
  const res = await fetch(`${url}/api/v1/log/publicKey`);
  const publicKeyPem = await res.text();
  const key = logKeyFromPem(publicKeyPem);
  const hostname = env.LOG_HOSTNAME!;

  const stop = (): Promise<number | null> => proc.stop();
  return {
    url,
    port,
    dataDir,
    child,
    publicKeyPem,
    ctx: { key, hostname, treeId },
    output: proc.output,
    stop,
    async dispose() {
      await stop();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: any;
}

/** fetch with the body read and parsed (when JSON); never throws on HTTP statuses. */
export async function http(
  url: string,
  init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const res = await fetch(url, {
    method: init.method ?? (init.body !== undefined ? 'POST' : 'GET'),
    headers: init.body !== undefined ? { 'content-type': 'application/json', ...init.headers } : init.headers,
    body: init.body,
  });
  const text = await res.text();
  let json: any;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function postJson(url: string, value: unknown): Promise<Reply> {
  return http(url, { method: 'POST', body: JSON.stringify(value) });
}

/** `POST /api/v1/log/entries` of a proposed entry on the log at `baseUrl`. */
export function postEntry(baseUrl: string, proposed: unknown): Promise<Reply> {
  return postJson(`${baseUrl}/api/v1/log/entries`, proposed);
}
