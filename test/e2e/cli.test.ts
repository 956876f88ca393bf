import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashedrekord, newP256Key, TestKey } from './fixtures';
import { CLI_MAIN, postJson, startTestServer, tempDir, TestServer } from '../support/server';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function vellum(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], {
      env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A command that should end but hangs must fail the test, not stall the run.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

describe('vellum keygen', () => {
  const dir = tempDir('vellum-cli-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('writes a 0600 key, prints its public key and logID, refuses to overwrite', async () => {
    const out = join(dir, 'keys', 'log.pem');
    const r = await vellum(['keygen', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.match(readFileSync(out, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(r.stdout, /logID [0-9a-f]{64}\n-----BEGIN PUBLIC KEY-----\n/);
    const before = readFileSync(out, 'utf8');
    const again = await vellum(['keygen', '--out', out]);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already exists/);
    assert.equal(readFileSync(out, 'utf8'), before, 'the existing key is untouched');
  });

  test('ed25519, and usage errors exit 2', async () => {
    const r = await vellum(['keygen', '--algorithm', 'ed25519', '--out', join(dir, 'ed.pem')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await vellum(['keygen', '--algorithm', 'rsa', '--out', join(dir, 'x.pem')])).code, 2);
    assert.equal((await vellum(['keygen'])).code, 2);
    assert.equal((await vellum(['no-such-command'])).code, 2);
  });
});

describe('vellum serve configuration errors', () => {
  test('bad variables stop the boot with exit 2 and name the variable', async () => {
    const dataDir = tempDir();
    for (const [env, re] of [
      [{ PORT: 'abc' }, /^config error: PORT: /m],
      [{ PORT: '70000' }, /^config error: PORT: /m],
      [{ BATCH_MAX_SIZE: '0' }, /^config error: BATCH_MAX_SIZE: /m],
      [{ LOG_HOSTNAME: 'has space' }, /^config error: LOG_HOSTNAME: /m],
      // Split roles need PostgreSQL (and Redis): refused before anything starts.
      [{ ROLE: 'api' }, /^config error: [A-Z_]+: /m],
    ] as const) {
      const r = await vellum(['serve'], { DATA_DIR: dataDir, ...env });
      assert.equal(r.code, 2, `${JSON.stringify(env)}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('vellum verify', () => {
  let server: TestServer;
  let key: TestKey;
  const dir = tempDir('vellum-verify-');
  const keyFile = join(dir, 'log.pem');
  const pubFile = join(dir, 'log.pub.pem');
  const stateFile = join(dir, 'state', 'verify-state.json');
  const saved = join(dir, 'entry.json');
  let savedDoc: any;

  before(async () => {
    const kg = await vellum(['keygen', '--out', keyFile]);
    assert.equal(kg.code, 0, kg.stderr);
    server = await startTestServer({ env: { SIGNING_KEY_PATH: keyFile } });
    const pem = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----\n/.exec(kg.stdout)![0];
    assert.equal(server.publicKeyPem, pem, 'the server signs with the key keygen made');
    writeFileSync(pubFile, pem);
    key = newP256Key();
    for (let i = 0; i < 5; i++) {
      const r = await postJson(`${server.url}/api/v1/log/entries`, hashedrekord(key).proposed);
      assert.equal(r.status, 201);
      if (i === 2) savedDoc = r.json;
    }
    writeFileSync(saved, JSON.stringify(savedDoc, null, 2));
  });
  after(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = () => ['verify', '--log', server.url, '--public-key', pubFile, '--state', stateFile];

  test('a saved entry verifies and its checkpoint is recorded', async () => {
    const r = await vellum([...base(), '--entry', saved]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /entry [0-9a-f]{80} OK/);
    assert.match(r.stdout, /no earlier checkpoint recorded/);
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    const rec = state.logs[`${server.url} ${server.ctx.key.logIdHex}`];
    assert.equal(rec.size, 5);
    assert.equal(rec.treeId, server.ctx.treeId);
  });

  test('a second run proves consistency from the recorded checkpoint; --uuid and --index work', async () => {
    for (let i = 0; i < 4; i++) {
      const posted = await postJson(`${server.url}/api/v1/log/entries`, hashedrekord(key).proposed);
      assert.equal(posted.status, 201, JSON.stringify(posted.json));
    }
    const id = Object.keys(savedDoc)[0];
    let r = await vellum([...base(), '--uuid', id]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(
      r.stdout,
      /consistent: the checkpoint seen last time \(size 5\) -> current checkpoint \(size 9\)/,
    );
    r = await vellum([...base(), '--index', '0']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(
      r.stdout,
      /consistent: the checkpoint seen last time \(size 9\) -> current checkpoint \(size 9\)/,
    );
    assert.equal(
      JSON.parse(readFileSync(stateFile, 'utf8')).logs[`${server.url} ${server.ctx.key.logIdHex}`].size,
      9,
    );
  });

  test('tampering with the saved entry fails with a clear message and exit 1', async () => {
    const id = Object.keys(savedDoc)[0];
    const variants: [string, (e: any) => void][] = [
      [
        'body',
        (e) => {
          const b = Buffer.from(e.body, 'base64');
          b[b.length - 5] ^= 1;
          e.body = b.toString('base64');
        },
      ],
      ['integratedTime', (e) => (e.integratedTime += 1)],
      [
        'proof hash',
        (e) => {
          const h = e.verification.inclusionProof.hashes;
          h[0] = (h[0][0] === 'a' ? 'b' : 'a') + h[0].slice(1);
        },
      ],
      [
        'checkpoint',
        (e) =>
          (e.verification.inclusionProof.checkpoint = e.verification.inclusionProof.checkpoint.replace(
            /\n[0-9]+\n/,
            '\n1000\n',
          )),
      ],
    ];
    for (const [what, mutate] of variants) {
      const doc = JSON.parse(JSON.stringify(savedDoc));
      mutate(doc[id]);
      const f = join(dir, `tampered-${what.replace(' ', '-')}.json`);
      writeFileSync(f, JSON.stringify(doc));
      const r = await vellum([...base(), '--entry', f]);
      assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^verification failed: /, what);
    }
    // The wrong log key.
    const other = join(dir, 'other.pub.pem');
    writeFileSync(other, newP256Key().pem);
    const r = await vellum([
      'verify',
      '--log',
      server.url,
      '--public-key',
      other,
      '--state',
      stateFile,
      '--entry',
      saved,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /verification failed: entry logID/);
  });

  test('a recorded checkpoint the log cannot extend (a fork) fails', async () => {
    const forged = join(dir, 'forged-state.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    const k = `${server.url} ${server.ctx.key.logIdHex}`;
    state.logs[k].size = 6;
    state.logs[k].rootHash = 'ab'.repeat(32);
    writeFileSync(forged, JSON.stringify(state));
    const r = await vellum([
      'verify',
      '--log',
      server.url,
      '--public-key',
      pubFile,
      '--state',
      forged,
      '--entry',
      saved,
    ]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /verification failed: consistency between the checkpoint seen last time \(size 6\)/,
    );
    // A failed run must not overwrite what was recorded.
    assert.equal(JSON.parse(readFileSync(forged, 'utf8')).logs[k].rootHash, 'ab'.repeat(32));
  });

  test('--offline verifies a saved entry without the network; usage errors exit 2', async () => {
    const r = await vellum([
      'verify',
      '--log',
      'http://127.0.0.1:9',
      '--public-key',
      pubFile,
      '--entry',
      saved,
      '--offline',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await vellum(['verify', '--log', server.url, '--public-key', pubFile])).code, 2);
    assert.equal(
      (await vellum(['verify', '--log', server.url, '--public-key', pubFile, '--uuid', 'xyz'])).code,
      2,
    );
  });
});
