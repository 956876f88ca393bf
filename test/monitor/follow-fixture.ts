/**
 * A running log to follow, shared by the tailer tests (test/monitor/tailer.test.ts) and the
 * `--tiles` CLI tests (test/e2e/tile-follow.test.ts): a test server, its public key and a rule
 * file on disk, entries of which every n-th is signed by a watched e-mail identity, the CLI as a
 * child process, and a local HTTP server standing in for a lying copy of the log.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { join } from 'node:path';
import { CLI_MAIN, startTestServer, tempDir, type TestServer } from '../support/server';
import { keySigner, proposedEntry } from './harness';

/** Matches the identities of the watched entries (…@example.com) and nothing else. */
export const WATCH_EXAMPLE_RULES = `
apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: watch-example}
spec:
  scope:
    - emailRegExp: '.*@example\\.com'
`;

export interface FollowedLog {
  readonly server: TestServer;
  readonly dir: string;
  /** The log's public key (PEM file). */
  readonly pubPath: string;
  /** WATCH_EXAMPLE_RULES as a file. */
  readonly rulesPath: string;
  dispose(): Promise<void>;
}

export async function startFollowedLog(dirPrefix: string): Promise<FollowedLog> {
  const server = await startTestServer();
  const dir = tempDir(dirPrefix);
  const pubPath = join(dir, 'log.pem');
  const rulesPath = join(dir, 'rules.yaml');
  writeFileSync(pubPath, server.publicKeyPem);
  writeFileSync(rulesPath, WATCH_EXAMPLE_RULES);
  return {
    server,
    dir,
    pubPath,
    rulesPath,
    async dispose() {
      await server.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `vellum monitor` arguments for `log` read at `logUrl` with its key and rules, state in `state`. */
export function monitorArgs(log: FollowedLog, logUrl: string, state: string, extra: string[] = []): string[] {
  return ['--log', logUrl, '--public-key', log.pubPath, '--rules', log.rulesPath, '--state', state, ...extra];
}

export interface Signer {
  readonly pem: string;
  readonly privateKey: KeyObject;
}

/**
 * Submits `n` entries, `workers` at a time; entry k is signed by a watched signer (taken in turn)
 * when k is a multiple of `matchEvery`, else by a plain key. Resolves with each entry's index and
 * UUID as the log answered.
 */
export async function populateLog(
  url: string,
  n: number,
  matchEvery: number,
  o: { watched: readonly Signer[]; workers: number },
): Promise<Array<{ index: number; uuid: string; match: boolean }>> {
  const plain = keySigner();
  const added: Array<{ index: number; uuid: string; match: boolean }> = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const k = next++;
      if (k >= n) return;
      const match = k % matchEvery === 0;
      const signer = match ? o.watched[k % o.watched.length]! : plain;
      const res = await fetch(`${url}/api/v1/log/entries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(proposedEntry(signer, randomBytes(32))),
      });
      const json = (await res.json()) as Record<string, { logIndex: number }>;
      assert.equal(res.status, 201, JSON.stringify(json));
      const [uuid, v] = Object.entries(json)[0]!;
      added.push({ index: v.logIndex, uuid, match });
    }
  };
  await Promise.all(Array.from({ length: o.workers }, worker));
  return added;
}

/** `vellum ARGS` as a child process; `onStderr` sees the stderr so far after each chunk. */
export function runVellum(
  args: string[],
  opts: { env?: Record<string, string>; onStderr?: (text: string, child: ChildProcess) => void } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      opts.onStderr?.(stderr, child);
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** An HTTP server on a free local port (a copy of the log that may lie), and its close. */
export async function listenLocal(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; close: () => Promise<void> }> {
  const s = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const a = s.address();
  return {
    url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`,
    close: () => {
      s.closeAllConnections();
      return new Promise((r) => s.close(() => r()));
    },
  };
}
