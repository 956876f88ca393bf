/**
 * `vellum monitor --tiles` and `vellum verify --tiles` against a running server: the log is
 * followed through /checkpoint, hash tiles and entry bundles only. The root the monitor records
 * is checked against the independent tile client (test/support/tile-client) and the v1 API.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI_MAIN, startTestServer, tempDir, type TestServer } from '../support/server';
import { rootFromBundles } from '../support/tile-client';
import { certSigner, emailCert, keySigner, proposedEntry } from '../monitor/harness';

const RULES = `
apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: watch-example}
spec:
  scope:
    - emailRegExp: '.*@example\\.com'
`;

let server: TestServer;
let dir: string;
let pubPath: string;
let rulesPath: string;
const matching: number[] = [];
const uuids: string[] = [];

async function populate(n: number, matchEvery: number): Promise<void> {
  const plain = keySigner();
  const watched = certSigner(emailCert('dev@example.com'));
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const k = next++;
      if (k >= n) return;
      const match = k % matchEvery === 0;
      const res = await fetch(`${server.url}/api/v1/log/entries`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(proposedEntry(match ? watched : plain, randomBytes(32))),
      });
      const json = (await res.json()) as Record<string, { logIndex: number }>;
      assert.equal(res.status, 201, JSON.stringify(json));
      const [uuid, v] = Object.entries(json)[0]!;
      uuids[v.logIndex] = uuid;
      if (match) matching.push(v.logIndex);
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
  matching.sort((a, b) => a - b);
}

function vellum(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Forwards to the server; `rewrite` may change any binary answer. */
async function tileProxy(
  rewrite: (path: string, body: Buffer) => Buffer,
): Promise<{ url: string; close: () => Promise<void> }> {
  const s: Server = createServer((req, res) => {
    void (async () => {
      const up = await fetch(`${server.url}${req.url}`);
      const body = rewrite(req.url ?? '', Buffer.from(await up.arrayBuffer()));
      res.statusCode = up.status;
      res.setHeader('content-type', up.headers.get('content-type') ?? 'application/octet-stream');
      res.end(body);
    })();
  });
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

const monitorArgs = (logUrl: string, state: string, extra: string[] = []) => [
  'monitor',
  '--tiles',
  '--log',
  logUrl,
  '--public-key',
  pubPath,
  '--rules',
  rulesPath,
  '--state',
  state,
  '--once',
  ...extra,
];

before(async () => {
  server = await startTestServer();
  dir = tempDir('vellum-tile-follow-');
  pubPath = join(dir, 'log.pem');
  rulesPath = join(dir, 'rules.yaml');
  writeFileSync(pubPath, server.publicKeyPem);
  writeFileSync(rulesPath, RULES);
  await populate(700, 50); // 2 full tiles and a partial one of 188
});

after(async () => {
  await server?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('vellum monitor --tiles scans the whole log from its tiles, reports the matches, then only new entries', async () => {
  const state = join(dir, 'state.json');
  const r = await vellum(
    monitorArgs(server.url, state, ['--origin-hostname', server.ctx.hostname, '--save-every', '300']),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /checkpoint 700 verified/);
  const events = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    events.map((e) => Number(e.data.logIndex)),
    matching,
  );
  assert.ok(events.every((e) => e.type === 'identity.matched'));
  const saved = JSON.parse(readFileSync(state, 'utf8'));
  assert.equal(saved.size, 700);
  // The root it recorded is the one an independent tile client and the v1 API see.
  const oracle = await rootFromBundles(server.url, 700);
  assert.equal(saved.rootHash, oracle.root.toString('hex'));
  const info = (await (await fetch(`${server.url}/api/v1/log`)).json()) as {
    rootHash: string;
    treeSize: number;
  };
  if (info.treeSize === 700) assert.equal(info.rootHash, saved.rootHash);

  await populate(13, 1000);
  const again = await vellum(monitorArgs(server.url, state));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /checkpoint 713 verified .*; 13 new entries/);
  assert.equal(JSON.parse(readFileSync(state, 'utf8')).size, 713);
});

test('vellum monitor --tiles: a rewritten entry bundle or a forged hash tile is log.inconsistent (exit 1), state unchanged', async () => {
  const state = join(dir, 'state-tamper.json');
  const fresh = join(dir, 'state-fresh.json');
  // A body flipped inside the first full bundle: the rebuilt root is not the signed one.
  let p = await tileProxy((path, body) => {
    if (path !== '/tile/entries/000') return body;
    const b = Buffer.from(body);
    b[b.length - 3] ^= 1;
    return b;
  });
  let r = await vellum(monitorArgs(p.url, fresh));
  await p.close();
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /LOG INCONSISTENT: the root rebuilt from all/);
  assert.equal(JSON.parse(r.stdout.trim().split('\n')[0]!).type, 'log.inconsistent');

  // A baseline, then the log grows and a level-0 hash tile is forged: consistency cannot hold.
  r = await vellum(monitorArgs(server.url, state));
  assert.equal(r.code, 0, r.stderr);
  const good = readFileSync(state);
  await populate(300, 1000);
  p = await tileProxy((path, body) => (/^\/tile\/0\//.test(path) ? randomBytes(body.length) : body));
  r = await vellum(monitorArgs(p.url, state));
  await p.close();
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /LOG INCONSISTENT: checkpoint of size \d+ is not consistent with the one of size \d+/,
  );
  assert.ok(readFileSync(state).equals(good), 'state unchanged');
});

test('vellum monitor --tiles --start-at-end takes the compact range from the tiles and verifies later entries', async () => {
  const state = join(dir, 'state-end.json');
  const r = await vellum(monitorArgs(server.url, state, ['--start-at-end']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /--start-at-end, baseline = checkpoint of size \d+, nothing scanned/);
  const size = JSON.parse(readFileSync(state, 'utf8')).size as number;
  await populate(5, 1000);
  const next = await vellum(monitorArgs(server.url, state));
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, new RegExp(`checkpoint ${size + 5} verified .*; 5 new entries`));
});

test('vellum verify --tiles checks the entry, finds its body in its entry bundle, and proves consistency from tile hashes', async () => {
  const state = join(dir, 'verify-state.json');
  const base = ['verify', '--tiles', '--log', server.url, '--public-key', pubPath, '--state', state];
  let r = await vellum([...base, '--index', '300']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /entry [0-9a-f]{80} OK: index 300/);
  assert.match(r.stdout, /entry body found at index 300 of tile\/entries\/001/);
  assert.match(r.stdout, /consistent: the entry's checkpoint \(size \d+\) -> current checkpoint/);
  await populate(3, 1000);
  r = await vellum([...base, '--uuid', uuids[5]!]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /consistent: the checkpoint seen last time \(size \d+\) -> current checkpoint/);

  // A forged hash tile breaks the consistency proof; a forged bundle hides the entry.
  // An entry saved now, checked later through a lying copy of the log (state per log URL, so
  // the entry's own checkpoint is what must be extended).
  const entryFile = join(dir, 'entry-300.json');
  writeFileSync(entryFile, await (await fetch(`${server.url}/api/v1/log/entries?logIndex=300`)).text());
  const saved = readFileSync(state, 'utf8');
  await populate(2, 1000);
  let p = await tileProxy((path, body) => (/^\/tile\/0\//.test(path) ? randomBytes(body.length) : body));
  r = await vellum([
    'verify',
    '--tiles',
    '--log',
    p.url,
    '--public-key',
    pubPath,
    '--state',
    state,
    '--entry',
    entryFile,
  ]);
  await p.close();
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /verification failed: consistency between/);
  assert.equal(readFileSync(state, 'utf8'), saved, 'a failed run records nothing');
  p = await tileProxy((path, body) =>
    path.startsWith('/tile/entries/001') ? body.subarray(2 + body.readUInt16BE(0)) : body,
  );
  r = await vellum([
    'verify',
    '--tiles',
    '--log',
    p.url,
    '--public-key',
    pubPath,
    '--state',
    state,
    '--entry',
    entryFile,
  ]);
  await p.close();
  assert.equal(r.code, 1, r.stdout);
  assert.match(
    r.stderr,
    /verification failed: entry bundle tile\/entries\/001.* holds another body at index 300/,
  );
});
