/**
 * LOG_FORMAT=json: every line `vellum serve` prints on stdout is one JSON object, and each HTTP
 * request gets an id (the caller's acceptable x-request-id, else a fresh UUID) that is returned
 * in `x-request-id` and carried by the request's log line.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { spawnServe } from '../../src/bench/server-process';
import { freePort, tempDir, testServerEnv } from '../support/server';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('LOG_FORMAT=json: stdout is JSON lines; request ids are returned and logged', async () => {
  const dataDir = tempDir();
  const port = await freePort();
  const env = testServerEnv(dataDir, port, { LOG_LEVEL: 'debug', LOG_FORMAT: 'json', VERIFY_WORKERS: '0' });
  // Lines of stdout as JSON objects; a line that is not JSON fails the test.
  const linesOf = (stdout: string) =>
    stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, any>;
        } catch {
          assert.fail(`stdout line is not JSON: ${l}`);
        }
      });
  const listeningLine = (stdout: string) =>
    linesOf(stdout).find((l) => typeof l.message === 'object' && l.message?.url !== undefined);
  const server = await spawnServe({
    name: 'server',
    env,
    ready: (out) => listeningLine(out.stdout)?.message.url as string | undefined,
  });
  const stdout = server.stdout;
  const lines = () => linesOf(stdout());
  try {
    const listening = listeningLine(stdout())!;
    const url = listening.message.url as string;
    assert.equal(url, `http://127.0.0.1:${port}`);
    assert.match(listening.message.treeId, /^[0-9]+$/);
    assert.match(listening.message.publicKey, /BEGIN PUBLIC KEY/);
    assert.equal(listening.level, 'log');

    const given = `trace-${Date.now()}`;
    const a = await fetch(`${url}/api/v1/log`, { headers: { 'x-request-id': given } });
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('x-request-id'), given, 'an acceptable caller id is kept');
    const b = await fetch(`${url}/api/v1/log/entries/zz`, {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    const fresh = b.headers.get('x-request-id') ?? '';
    assert.match(fresh, UUID, 'an unacceptable caller id is replaced by a UUID');
    const c = await fetch(`${url}/api/v1/log`);
    const other = c.headers.get('x-request-id') ?? '';
    assert.match(other, UUID);
    assert.notEqual(other, fresh, 'each request its own id');

    const requestLine = (id: string) =>
      lines().find((l) => typeof l.message === 'object' && l.message?.requestId === id);
    for (let i = 0; i < 100 && (requestLine(given) === undefined || requestLine(fresh) === undefined); i++)
      await new Promise((r) => setTimeout(r, 20));
    const la = requestLine(given);
    assert.ok(la, `no log line for request ${given}:\n${stdout()}`);
    assert.equal(la.message.method, 'GET');
    assert.equal(la.message.url, '/api/v1/log');
    assert.equal(la.message.statusCode, 200);
    assert.equal(la.level, 'debug');
    assert.equal(requestLine(fresh)?.message.statusCode, b.status);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  // Shutdown lines too.
  for (const l of stdout()
    .split('\n')
    .filter((x) => x !== ''))
    JSON.parse(l);
});
