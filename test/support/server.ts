/**
 * Starts the real Vellum server (`vellum serve` from the compiled tree this test runs from) as a
 * child process on a free port with its own DATA_DIR, and tells the test what it announced.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
export { freePort } from '../../src/bench/free-port';
import { freePort } from '../../src/bench/free-port';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LogContext, logKeyFromPem } from './verifier';

/** The compiled CLI next to this compiled file: <out>/test/support -> <out>/src/cli/main.js. */
export const CLI_MAIN = resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

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

export async function startTestServer(opts: StartOptions = {}): Promise<TestServer> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? tempDir();
  const port = opts.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_HOSTNAME: `127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
    BATCH_MAX_AGE_MS: '20',
    NO_PROXY: '127.0.0.1,localhost',
    ...opts.env,
  };
  for (const k of ['SIGNING_KEY_PATH', 'DATABASE_URL', 'REDIS_URL', 'ROLE'])
    if (!opts.env?.[k]) delete env[k];

  const child = spawn(process.execPath, [CLI_MAIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));

  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start in 60 s:\n${out}`)), 60_000);
    const poll = setInterval(() => {
      const m = /vellum listening on (\S+)\n[\s\S]*-----END PUBLIC KEY-----\n/.exec(out);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        res(/vellum listening on (\S+)/.exec(out)![1]);
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      rej(new Error(`server exited (${code}) during startup:\n${out}`));
    });
  });

  const treeId = /treeID ([0-9]+)/.exec(out)![1];
  const res = await fetch(`${url}/api/v1/log/publicKey`);
  const publicKeyPem = await res.text();
  const key = logKeyFromPem(publicKeyPem);
  const hostname = env.LOG_HOSTNAME!;

  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return {
    url,
    port,
    dataDir,
    child,
    publicKeyPem,
    ctx: { key, hostname, treeId },
    output: () => out,
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
