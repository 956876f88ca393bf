/**
 * `vellum monitor --tiles` and `vellum verify --tiles` against a running server: the log is
 * followed through /checkpoint, hash tiles and entry bundles only. The root the monitor records
 * is checked against the independent tile client (test/support/tile-client) and the v1 API.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestServer } from '../support/server';
import { rootFromBundles } from '../support/tile-client';
import {
  type FollowedLog,
  listenLocal,
  monitorArgs,
  populateLog,
  runVellum,
  startFollowedLog,
} from '../monitor/follow-fixture';
import { certSigner, emailCert } from '../monitor/harness';

let log: FollowedLog;
let server: TestServer;
let dir: string;
let pubPath: string;
const matching: number[] = [];
const uuids: string[] = [];

async function populate(n: number, matchEvery: number): Promise<void> {
  const watched = [certSigner(emailCert('dev@example.com'))];
  for (const e of await populateLog(server.url, n, matchEvery, { watched, workers: 24 })) {
    uuids[e.index] = e.uuid;
    if (e.match) matching.push(e.index);
  }
  matching.sort((a, b) => a - b);
}

const vellum = (args: string[]) => runVellum(args);

/** Forwards to the server; `rewrite` may change any binary answer. */
function tileProxy(
  rewrite: (path: string, body: Buffer) => Buffer,
): Promise<{ url: string; close: () => Promise<void> }> {
  return listenLocal((req, res) => {
    void (async () => {
      const up = await fetch(`${server.url}${req.url}`);
      const body = rewrite(req.url ?? '', Buffer.from(await up.arrayBuffer()));
      res.statusCode = up.status;
      res.setHeader('content-type', up.headers.get('content-type') ?? 'application/octet-stream');
      res.end(body);
    })();
  });
}

const tileMonitorArgs = (logUrl: string, state: string, extra: string[] = []) => [
  'monitor',
  '--tiles',
  ...monitorArgs(log, logUrl, state, ['--once', ...extra]),
];

before(async () => {
  log = await startFollowedLog('vellum-tile-follow-');
  ({ server, dir, pubPath } = log);
  await populate(700, 50); // 2 full tiles and a partial one of 188
});

after(() => log?.dispose());

test('vellum monitor --tiles scans the whole log from its tiles, reports the matches, then only new entries', async () => {
  const state = join(dir, 'state.json');
  const r = await vellum(
    tileMonitorArgs(server.url, state, ['--origin-hostname', server.ctx.hostname, '--save-every', '300']),
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
  const again = await vellum(tileMonitorArgs(server.url, state));
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
  let r = await vellum(tileMonitorArgs(p.url, fresh));
  await p.close();
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /LOG INCONSISTENT: the root rebuilt from all/);
  assert.equal(JSON.parse(r.stdout.trim().split('\n')[0]!).type, 'log.inconsistent');

  // A baseline, then the log grows and a level-0 hash tile is forged: consistency cannot hold.
  r = await vellum(tileMonitorArgs(server.url, state));
  assert.equal(r.code, 0, r.stderr);
  const good = readFileSync(state);
  await populate(300, 1000);
  p = await tileProxy((path, body) => (/^\/tile\/0\//.test(path) ? randomBytes(body.length) : body));
  r = await vellum(tileMonitorArgs(p.url, state));
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
  const r = await vellum(tileMonitorArgs(server.url, state, ['--start-at-end']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /--start-at-end, baseline = checkpoint of size \d+, nothing scanned/);
  const size = JSON.parse(readFileSync(state, 'utf8')).size as number;
  await populate(5, 1000);
  const next = await vellum(tileMonitorArgs(server.url, state));
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
  // The saved entry checked through a copy of the log whose answers `rewrite` changes.
  const verifyThrough = async (rewrite: (path: string, body: Buffer) => Buffer) => {
    const p = await tileProxy(rewrite);
    try {
      return await vellum([
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
    } finally {
      await p.close();
    }
  };
  r = await verifyThrough((path, body) => (/^\/tile\/0\//.test(path) ? randomBytes(body.length) : body));
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /verification failed: consistency between/);
  assert.equal(readFileSync(state, 'utf8'), saved, 'a failed run records nothing');
  r = await verifyThrough((path, body) =>
    path.startsWith('/tile/entries/001') ? body.subarray(2 + body.readUInt16BE(0)) : body,
  );
  assert.equal(r.code, 1, r.stdout);
  assert.match(
    r.stderr,
    /verification failed: entry bundle tile\/entries\/001.* holds another body at index 300/,
  );
});
