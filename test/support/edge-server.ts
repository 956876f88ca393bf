/**
 * Helpers for the hostile-client tests: `vellum serve` as a child process, optionally under a
 * lowered file-descriptor limit, and raw sockets that speak just enough HTTP/1.1.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { CLI_MAIN, freePort, tempDir, testServerEnv } from './server';

export interface EdgeServer {
  readonly url: string;
  readonly port: number;
  output(): string;
  /** The value of one Prometheus sample line (`name` or `name{labels}`), 0 when absent. */
  metric(sample: string): Promise<number>;
  dispose(): Promise<void>;
}

export interface EdgeServerOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** Run the server under `ulimit -n` of this many descriptors. */
  readonly maxFiles?: number;
}

export async function startEdgeServer(opts: EdgeServerOptions = {}): Promise<EdgeServer> {
  const dataDir = tempDir('vellum-edge-');
  const port = await freePort();
  const env = testServerEnv(dataDir, port, { VERIFY_WORKERS: '1', BATCH_MAX_AGE_MS: '50', ...opts.env });
  const child =
    opts.maxFiles === undefined
      ? spawn(process.execPath, [CLI_MAIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(
          'bash',
          ['-c', `ulimit -n ${opts.maxFiles} && exec "$0" "$@"`, process.execPath, CLI_MAIN, 'serve'],
          { env, stdio: ['ignore', 'pipe', 'pipe'] },
        );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start in 60 s:\n${out}`)), 60_000);
    const poll = setInterval(() => {
      const m = /vellum listening on (\S+)/.exec(out);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        res(m[1]);
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      rej(new Error(`server exited (${code}) during startup:\n${out}`));
    });
  });
  return {
    url,
    port,
    output: () => out,
    async metric(sample) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
      return line === undefined ? 0 : Number(line.slice(sample.length + 1));
    },
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A connected socket collecting what the server sends, and when the server closed it. */
export interface RawClient {
  readonly socket: Socket;
  received(): string;
  /** Milliseconds from connecting to the server closing the connection. */
  readonly closed: Promise<number>;
}

export function rawClient(port: number): Promise<RawClient> {
  return new Promise((res, rej) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.once('error', rej);
    socket.once('connect', () => {
      const started = Date.now();
      socket.removeListener('error', rej);
      // A reset counts as closed, as an orderly close does.
      socket.on('error', () => undefined);
      const closed = new Promise<number>((c) => socket.once('close', () => c(Date.now() - started)));
      res({ socket, received: () => data, closed });
    });
  });
}

/** Request headers announcing a body of `length` bytes that the caller then sends, or not. */
export function postHead(length: number, path = '/api/v1/log/entries'): string {
  return (
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
    `content-length: ${length}\r\n\r\n`
  );
}
