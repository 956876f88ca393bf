import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { formatCheckpoint, parseCheckpoint, signRekorCheckpoint } from '../../src/core/checkpoint';
import { LogPublicKey, LogSigningKey } from '../../src/core/keys';
import { leafHash } from '../../src/core/merkle/hash';
import { parseSignedNote } from '../../src/core/note';
import { parseRulesYaml } from '../../src/core/monitor';
import { LogTailer, type PassResult } from '../../src/cli/monitor/tailer';
import { CLI_MAIN, type TestServer } from '../support/server';
import {
  type FollowedLog,
  WATCH_EXAMPLE_RULES,
  listenLocal,
  monitorArgs,
  populateLog,
  runVellum,
  startFollowedLog,
} from './follow-fixture';
import { certSigner, emailCert } from './harness';

let log: FollowedLog;
let server: TestServer;
let dir: string;
let pubPath: string;
let rulesPath: string;
let publicKey: LogPublicKey;
let logKey: LogSigningKey;
const matching: number[] = [];

async function populate(n: number, matchEvery: number): Promise<void> {
  const watched = [certSigner(emailCert('dev@example.com')), certSigner(emailCert('ops@example.com'))];
  for (const e of await populateLog(server.url, n, matchEvery, { watched, workers: 48 }))
    if (e.match) matching.push(e.index);
}

function tailer(
  statePath: string,
  logUrl = server.url,
  extra: Partial<ConstructorParameters<typeof LogTailer>[0]> = {},
) {
  const out: string[] = [];
  const err: string[] = [];
  const t = new LogTailer({
    logUrl,
    publicKey,
    rules: parseRulesYaml(WATCH_EXAMPLE_RULES).rules,
    statePath,
    concurrency: 16,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    ...extra,
  });
  return { t, out, err };
}

/**
 * A copy of the log that lies: forwards to the real server and rewrites chosen responses.
 */
function tamperProxy(
  rewrite: (path: string, json: any) => any,
  forceOk = false,
  delayMs = 0,
): Promise<{ url: string; close: () => Promise<void> }> {
  return listenLocal((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const up = await fetch(`${server.url}${req.url}`, {
          method: req.method,
          headers: { 'content-type': 'application/json' },
          ...(req.method === 'POST' ? { body } : {}),
        });
        let text = await up.text();
        try {
          text = JSON.stringify(rewrite(req.url ?? '', JSON.parse(text)));
        } catch {
          /* not JSON: pass through */
        }
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        res.statusCode = forceOk ? 200 : up.status;
        res.setHeader('content-type', 'application/json');
        res.end(text);
      })();
    });
  });
}

/** The log's checkpoint re-signed with `key` after `edit` (same origin/name). */
function resign(
  note: string,
  key: LogSigningKey,
  edit: (cp: ReturnType<typeof parseCheckpoint>) => ReturnType<typeof parseCheckpoint>,
): string {
  const n = parseSignedNote(note);
  const cp = edit(parseCheckpoint(n.text));
  return signRekorCheckpoint(cp, key, n.signatures[0]!.name);
}

function expectInconsistent(r: PassResult, out: string[], pattern: RegExp): void {
  assert.equal(r.status, 'inconsistent', `expected an inconsistency, got ${r.status}: ${r.reason}`);
  assert.match(r.reason ?? '', pattern);
  const ev = out.map((l) => JSON.parse(l)).find((e) => e.type === 'log.inconsistent');
  assert.ok(ev, 'a log.inconsistent event was emitted');
  assert.match(ev.data.reason, pattern);
}

before(async () => {
  log = await startFollowedLog('vellum-h8-tail-');
  ({ server, dir, pubPath, rulesPath } = log);
  publicKey = LogPublicKey.fromPem(server.publicKeyPem);
  logKey = LogSigningKey.fromPem(readFileSync(join(server.dataDir, 'signing-key.pem'), 'utf8'));
  await populate(2500, 250);
  matching.sort((a, b) => a - b);
});

after(() => log?.dispose());

test('scans every entry from index 0, rebuilds the root, reports rule matches; later passes only read new entries', async () => {
  const state = join(dir, 'state-main.json');
  const { t, out, err } = tailer(state);
  const r1 = await t.pass();
  assert.equal(r1.status, 'ok', r1.reason);
  assert.equal(r1.scanned, 2500);
  console.log(
    `# independent monitor: ${r1.scanned} entries in ${r1.seconds.toFixed(2)} s = ${Math.round(r1.entriesPerSecond)} entries/s (concurrency 16, 10 per request)`,
  );
  assert.ok(err.some((l) => /full scan from index 0/.test(l)));
  const events = out.map((l) => JSON.parse(l));
  assert.deepEqual(
    events.map((e) => Number(e.data.logIndex)),
    matching,
  );
  assert.ok(events.every((e) => e.type === 'identity.matched' && e.data.rule.id === 'watch-example'));
  const saved = JSON.parse(readFileSync(state, 'utf8'));
  assert.equal(saved.size, 2500);

  await populate(40, 10);
  matching.sort((a, b) => a - b);
  const second = tailer(state);
  const r2 = await second.t.pass();
  assert.equal(r2.status, 'ok', r2.reason);
  assert.equal(r2.previousSize, 2500);
  assert.equal(r2.scanned, 40);
  assert.equal(second.out.length, 4);
  const r3 = await tailer(state).t.pass();
  assert.equal(r3.status, 'ok');
  assert.equal(r3.scanned, 0);

  // A lost state file is not a silent re-baseline: the next run scans everything again.
  rmSync(state);
  const again = await tailer(state).t.pass();
  assert.equal(again.scanned, 2540);
  // --start-at-end takes the current checkpoint as the baseline (compact range from a proof)
  // and still verifies the root on the next pass.
  const endState = join(dir, 'state-end.json');
  const e1 = await tailer(endState, server.url, { startAtEnd: true }).t.pass();
  assert.equal(e1.status, 'ok', e1.reason);
  assert.equal(e1.scanned, 0);
  await populate(5, 1000);
  const e2 = await tailer(endState).t.pass();
  assert.equal(e2.status, 'ok', e2.reason);
  assert.equal(e2.scanned, 5);
});

test('detects a checkpoint signed by another key, a different root for a known size, rewritten entries; state stays as it was', async () => {
  const state = join(dir, 'state-tamper.json');
  const ok = await tailer(state).t.pass();
  assert.equal(ok.status, 'ok', ok.reason);
  const good = readFileSync(state);
  const size = JSON.parse(good.toString()).size as number;

  // 1. Another key signs the (otherwise genuine) checkpoint.
  const otherKey = LogSigningKey.generate();
  let p = await tamperProxy((path, j) =>
    path === '/api/v1/log' ? { ...j, signedTreeHead: resign(j.signedTreeHead, otherKey, (c) => c) } : j,
  );
  let t = tailer(state, p.url);
  expectInconsistent(await t.t.pass(), t.out, /does not verify/);
  await p.close();
  assert.ok(readFileSync(state).equals(good), 'state unchanged');

  // 2. The log's own key signs a different root for the size already verified (split view).
  const fakeRoot = randomBytes(32);
  p = await tamperProxy((path, j) =>
    path === '/api/v1/log'
      ? {
          ...j,
          rootHash: fakeRoot.toString('hex'),
          signedTreeHead: resign(j.signedTreeHead, logKey, (c) => ({ ...c, rootHash: fakeRoot })),
        }
      : j,
  );
  t = tailer(state, p.url);
  expectInconsistent(await t.t.pass(), t.out, /two different signed roots for tree size/);
  const ev = JSON.parse(t.out[0]!);
  assert.ok(ev.data.previousCheckpoint && ev.data.checkpoint, 'both signed notes are in the event');
  // Seen fresh (no state), the forged root cannot be rebuilt from the entries.
  t = tailer(join(dir, 'fresh-1.json'), p.url);
  expectInconsistent(await t.t.pass(), t.out, /root rebuilt from all \d+ entries/);
  assert.ok(!existsSync(join(dir, 'fresh-1.json')));
  await p.close();

  // 3. One entry body rewritten (UUID kept): leaf hash mismatch.
  const victim = Math.floor(size / 2);
  const forgedBody = Buffer.from(
    JSON.stringify({ apiVersion: '0.0.1', kind: 'hashedrekord', spec: { forged: true } }),
  );
  const rewrite = (keepUuid: boolean) => (path: string, j: any) => {
    if (!path.startsWith('/api/v1/log/entries/retrieve') || !Array.isArray(j)) return j;
    return j.map((m: Record<string, any>) => {
      const [uuid, v] = Object.entries(m)[0]!;
      if (v.logIndex !== victim) return m;
      const id = keepUuid ? uuid : uuid.slice(0, 16) + leafHash(forgedBody).toString('hex');
      return { [id]: { ...v, body: forgedBody.toString('base64') } };
    });
  };
  p = await tamperProxy(rewrite(true));
  t = tailer(join(dir, 'fresh-2.json'), p.url);
  expectInconsistent(await t.t.pass(), t.out, new RegExp(`leaf hash mismatch at index ${victim}`));
  await p.close();
  // ...and with a matching UUID: only the rebuilt root can tell.
  p = await tamperProxy(rewrite(false));
  t = tailer(join(dir, 'fresh-3.json'), p.url);
  expectInconsistent(await t.t.pass(), t.out, /root rebuilt from all/);
  await p.close();

  // 4. A larger checkpoint, validly signed, whose consistency proof cannot hold.
  p = await tamperProxy((path, j) => {
    if (path === '/api/v1/log') {
      const root = randomBytes(32);
      return {
        ...j,
        treeSize: j.treeSize + 1,
        rootHash: root.toString('hex'),
        signedTreeHead: resign(j.signedTreeHead, logKey, (c) => ({ ...c, size: c.size + 1, rootHash: root })),
      };
    }
    if (path.startsWith('/api/v1/log/proof'))
      return { rootHash: j.rootHash, hashes: [randomBytes(32).toString('hex')] };
    return j;
  }, true);
  t = tailer(state, p.url);
  expectInconsistent(await t.t.pass(), t.out, /not consistent with the one of size/);
  await p.close();
  assert.ok(readFileSync(state).equals(good), 'state unchanged after every failure');
  assert.equal(
    formatCheckpoint(parseCheckpoint(parseSignedNote(JSON.parse(good.toString()).checkpoint).text)).length >
      0,
    true,
  );
});

/** `vellum monitor ARGS` as a child process. */
const runCli = (args: string[], opts: Parameters<typeof runVellum>[1] = {}) =>
  runVellum(['monitor', ...args], opts);

test('vellum monitor CLI: exit 0 on a good log, 1 with log.inconsistent on a tampered copy, 2 on usage errors', async () => {
  const state = join(dir, 'state-cli.json');
  const base = ['--public-key', pubPath, '--rules', rulesPath, '--state', state, '--concurrency', '8'];
  const good = await runCli([
    '--log',
    server.url,
    ...base,
    '--once',
    '--origin-hostname',
    server.ctx.hostname,
  ]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stderr, /verified/);
  const lines = good.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.ok(lines.length >= matching.length && lines.every((e) => e.type === 'identity.matched'));

  const otherKey = LogSigningKey.generate();
  const p = await tamperProxy((path, j) =>
    path === '/api/v1/log' ? { ...j, signedTreeHead: resign(j.signedTreeHead, otherKey, (c) => c) } : j,
  );
  // A receiver for the optional webhook; checks the Standard Webhooks signature itself.
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const got: Array<{ id: string; type: string; valid: boolean }> = [];
  const rcv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id']);
      const mac = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
        .update(`${id}.${String(req.headers['webhook-timestamp'])}.${body}`)
        .digest('base64');
      got.push({
        id,
        type: JSON.parse(body).type,
        valid: String(req.headers['webhook-signature']) === `v1,${mac}`,
      });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => rcv.listen(0, '127.0.0.1', () => r()));
  const ra = rcv.address();
  const hookUrl = `http://127.0.0.1:${typeof ra === 'object' && ra ? ra.port : 0}/hook`;
  try {
    const bad = await runCli(['--log', p.url, ...base, '--webhook-url', hookUrl], {
      env: { VELLUM_WEBHOOK_SECRET: secret },
    });
    assert.equal(bad.code, 1, bad.stderr);
    const ev = JSON.parse(bad.stdout.trim().split('\n')[0]!);
    assert.equal(ev.type, 'log.inconsistent');
    assert.match(bad.stderr, /LOG INCONSISTENT/);
    assert.deepEqual(got, [{ id: ev.id, type: 'log.inconsistent', valid: true }]);
  } finally {
    await p.close();
    rcv.closeAllConnections();
    await new Promise((r) => rcv.close(() => r(undefined)));
  }
  // --interval keeps running until a signal, then exits 0.
  let signalled = false;
  const loop = await runCli(['--log', server.url, ...base, '--interval', '1'], {
    onStderr: (text, child) => {
      if (!signalled && (text.match(/verified/g) ?? []).length >= 2) {
        signalled = true;
        child.kill('SIGTERM');
      }
    },
  });
  assert.equal(loop.code, 0, loop.stderr);
  assert.ok(signalled, 'two passes ran');
  const wrongName = await runCli(['--log', server.url, ...base, '--origin-hostname', 'not-the-log.example']);
  assert.equal(wrongName.code, 1);
  const usage = await runCli(['--log', server.url, '--rules', rulesPath]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--public-key FILE is required/);
  writeFileSync(join(dir, 'bad-rules.yaml'), 'apiVersion: nope\n');
  const badRules = await runCli([
    '--log',
    server.url,
    '--public-key',
    pubPath,
    '--rules',
    join(dir, 'bad-rules.yaml'),
  ]);
  assert.equal(badRules.code, 2);
  assert.match(badRules.stderr, /invalid rules/);
});

/** Serves a different body at `victim`, under a UUID that matches it: only the rebuilt root can tell. */
function forgeEntry(victim: number) {
  const forged = Buffer.from(
    JSON.stringify({ apiVersion: '0.0.1', kind: 'hashedrekord', spec: { forged: victim } }),
  );
  return (path: string, j: any): any => {
    if (!path.startsWith('/api/v1/log/entries/retrieve') || !Array.isArray(j)) return j;
    return j.map((m: Record<string, any>) => {
      const [uuid, v] = Object.entries(m)[0]!;
      if (v.logIndex !== victim) return m;
      return {
        [uuid.slice(0, 16) + leafHash(forged).toString('hex')]: { ...v, body: forged.toString('base64') },
      };
    });
  };
}

async function logSize(): Promise<number> {
  return ((await (await fetch(`${server.url}/api/v1/log`)).json()) as { treeSize: number }).treeSize;
}

/** A first full scan through `logUrl`, stopped once progress is saved at index `at` or beyond. */
async function interruptedScan(state: string, logUrl: string, at: number): Promise<PassResult> {
  const stop = new AbortController();
  const { t, out } = tailer(state, logUrl, {
    saveEveryEntries: 200,
    signal: stop.signal,
    onProgressSaved: (p) => {
      if (p.next >= at) stop.abort();
    },
  });
  const r = await t.pass();
  assert.equal(r.status, 'interrupted', r.reason);
  assert.deepEqual(out, [], 'nothing is reported before the root is verified');
  return r;
}

test('a long scan saves progress; the next pass continues toward the same checkpoint and still catches a forged entry after the interruption point', async () => {
  const size = await logSize();
  const state = join(dir, 'state-resume.json');
  await interruptedScan(state, server.url, 1000);
  const saved = JSON.parse(readFileSync(state, 'utf8'));
  // The verified part is still "nothing verified"; the progress is kept beside it.
  assert.equal(saved.size, 0);
  assert.equal(saved.progress.next, 1000);
  assert.equal(saved.progress.size, size);
  assert.deepEqual(
    saved.progress.alerts.map((a: any) => Number(a.event.data.logIndex)),
    matching.filter((i) => i < 1000),
  );

  // Resumed through a copy of the log that forges entry 1800: the scan goes on from 1000, and
  // the root toward the saved checkpoint does not come out.
  const p = await tamperProxy(forgeEntry(1800));
  let t = tailer(state, p.url);
  const bad = await t.t.pass();
  await p.close();
  expectInconsistent(bad, t.out, /root rebuilt from all/);
  assert.equal(bad.resumedFrom, 1000);
  assert.equal(bad.scanned, size - 1000, 'not rescanned from 0');
  assert.equal(t.out.length, 1, 'no identity alert from an unverified scan');
  assert.equal(JSON.parse(readFileSync(state, 'utf8')).size, 0);

  // The real log: continues from 1000 again, verifies, and reports every match, including the
  // ones found before the interruption.
  t = tailer(state);
  const good = await t.t.pass();
  assert.equal(good.status, 'ok', good.reason);
  assert.equal(good.resumedFrom, 1000);
  assert.equal(good.scanned, size - 1000);
  assert.deepEqual(
    t.out.map((l) => Number(JSON.parse(l).data.logIndex)),
    matching,
  );
  assert.ok(t.err.some((l) => /resuming the scan toward checkpoint \d+ at index 1000/.test(l)));
  const done = JSON.parse(readFileSync(state, 'utf8'));
  assert.equal(done.size, size);
  assert.equal(done.progress, undefined);
});

test('progress saved from forged entries is never trusted: a forged entry stops the scan before any save holding it, and a forged saved range fails its root, and keeps failing', async () => {
  // Each progress save is proven in the checkpoint first: the batch [200, 400) holding the forged
  // entry 300 is never saved, nothing is reported but the inconsistency.
  const state = join(dir, 'state-forged-before.json');
  const p = await tamperProxy(forgeEntry(300));
  const first = tailer(state, p.url, { saveEveryEntries: 200 });
  const r0 = await first.t.pass();
  await p.close();
  expectInconsistent(r0, first.out, /root rebuilt from all 400 entries read so far/);
  assert.equal(first.out.length, 1);
  assert.equal(JSON.parse(readFileSync(state, 'utf8')).progress.next, 200);

  // A saved range that does not come from the log's entries (a damaged file, or one written by an
  // older version from entries not yet proven) is proven again on resume, and fails.
  await interruptedScan(state, server.url, 1000);
  const saved = JSON.parse(readFileSync(state, 'utf8'));
  const forged = {
    ...saved,
    progress: {
      ...saved.progress,
      compactRange: saved.progress.compactRange.map(() => randomBytes(32).toString('hex')),
    },
  };
  writeFileSync(state, JSON.stringify(forged));
  for (let i = 0; i < 2; i++) {
    const t = tailer(state);
    const r = await t.t.pass();
    expectInconsistent(r, t.out, /root rebuilt from all 1000 entries read so far/);
    assert.equal(r.resumedFrom, 1000);
    assert.equal(JSON.parse(readFileSync(state, 'utf8')).size, 0);
  }
});

test('vellum monitor CLI: killed (SIGKILL) mid-scan, the next run resumes from the saved progress; SIGTERM saves and exits 3', async () => {
  const size = await logSize();
  const slow = await tamperProxy((_p, j) => j, false, 8);
  const state = join(dir, 'state-cli-kill.json');
  const args = (logUrl: string, extra: string[] = []) => monitorArgs(log, logUrl, state, extra);
  const savedNext = (): number => {
    try {
      return Number(JSON.parse(readFileSync(state, 'utf8')).progress?.next ?? 0);
    } catch {
      return 0;
    }
  };
  try {
    let killedAt = 0;
    const killed = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      const child = spawn(
        process.execPath,
        [CLI_MAIN, 'monitor', ...args(slow.url, ['--concurrency', '1', '--save-every', '300'])],
        { stdio: 'ignore' },
      );
      const poll = setInterval(() => {
        killedAt = savedNext();
        if (killedAt >= 900) {
          clearInterval(poll);
          child.kill('SIGKILL');
        }
      }, 20);
      child.on('exit', (code, signal) => {
        clearInterval(poll);
        resolve({ code, signal });
      });
    });
    assert.equal(killed.signal, 'SIGKILL', 'killed before the scan ended');
    const resumedAt = savedNext();
    assert.ok(resumedAt >= 900 && resumedAt < size, `progress at ${resumedAt}`);

    const resumed = await runCli(args(server.url, ['--once']));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(
      resumed.stderr,
      new RegExp(`resuming the scan toward checkpoint ${size} at index ${resumedAt}`),
    );
    assert.deepEqual(
      resumed.stdout
        .trim()
        .split('\n')
        .map((l) => Number(JSON.parse(l).data.logIndex)),
      matching,
    );
    assert.equal(JSON.parse(readFileSync(state, 'utf8')).size, size);

    // SIGTERM mid-scan: progress saved at that point, exit 3 (the --once pass did not finish).
    rmSync(state);
    let termed = false;
    const term = await runCli(args(slow.url, ['--concurrency', '1', '--save-every', '100000']), {
      onStderr: (_text, child) => {
        if (!termed) {
          termed = true;
          setTimeout(() => child.kill('SIGTERM'), 300);
        }
      },
    });
    assert.equal(term.code, 3, term.stderr);
    assert.match(term.stderr, /interrupted at index \d+ of \d+; progress saved/);
    const next = savedNext();
    assert.ok(next > 0 && next < size, `progress at ${next}`);
  } finally {
    await slow.close();
  }
});
