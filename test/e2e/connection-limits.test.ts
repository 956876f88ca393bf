/**
 * A server under `ulimit -n 1024` and a child process holding 1,000 sockets that sent complete
 * headers and never their body: MAX_CONNECTIONS keeps descriptors for the process, the timeouts
 * reclaim the held connections, and a new client gets its answer.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { type EdgeServer, startEdgeServer } from '../support/edge-server';

const HOSTILE = 1_000;
const TIMEOUTS = {
  HEADERS_TIMEOUT_MS: '1000',
  BODY_IDLE_TIMEOUT_MS: '2000',
  REQUEST_TIMEOUT_MS: '3000',
  KEEP_ALIVE_TIMEOUT_MS: '1000',
};

/** Opens `count` sockets that each send headers announcing 100 bytes and nothing more. */
const HOSTILE_SCRIPT = `
const net = require('node:net');
const [port, count] = process.argv.slice(1).map(Number);
let open = 0, settled = 0, closed = 0;
for (let i = 0; i < count; i++) {
  const s = net.connect(port, '127.0.0.1', () => {
    open++;
    s.write('POST /api/v1/log/entries HTTP/1.1\\r\\nHost: x\\r\\ncontent-type: application/json\\r\\ncontent-length: 100\\r\\n\\r\\n');
    if (++settled === count) console.log('ready ' + open);
  });
  s.on('error', () => {});
  s.on('close', () => { if (++closed === count) console.log('all closed'); });
  s.once('error', () => { if (++settled === count) console.log('ready ' + open); });
}
setInterval(() => {}, 1000);
`;

function holdSockets(
  port: number,
  count = HOSTILE,
): { child: ChildProcess; output: () => string; ready: Promise<void> } {
  const child = spawn(process.execPath, ['-e', HOSTILE_SCRIPT, String(port), String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = new Promise<void>((res, rej) => {
    const poll = setInterval(() => {
      if (/ready \d+/.test(out)) {
        clearInterval(poll);
        res();
      } else if (child.exitCode !== null) {
        clearInterval(poll);
        rej(new Error(`hostile client exited: ${out}`));
      }
    }, 20);
  });
  return { child, output: () => out, ready };
}

/** GET /api/v1/log until it answers, as a client whose connection is refused retries; ms taken. */
async function answeredWithin(url: string, deadlineMs: number): Promise<{ ms: number; attempts: number }> {
  const started = Date.now();
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      const res = await fetch(`${url}/api/v1/log`, { signal: AbortSignal.timeout(2_000) });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      return { ms: Date.now() - started, attempts };
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      if (Date.now() - started > deadlineMs)
        assert.fail(`no answer in ${deadlineMs} ms after ${attempts} attempts: ${String(e)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

describe('1,000 held sockets against a server under ulimit -n 1024', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  test('MAX_CONNECTIONS (default 900): the excess is dropped and counted, the held ones time out, a new client is answered', async () => {
    const server: EdgeServer = await startEdgeServer({ maxFiles: 1024, env: TIMEOUTS });
    cleanup.push(() => server.dispose());
    const hostile = holdSockets(server.port);
    cleanup.push(() => void hostile.child.kill('SIGKILL'));
    await hostile.ready;

    const { ms } = await answeredWithin(server.url, 10_000);
    assert.ok(ms < 10_000, `answered after ${ms} ms`);
    const dropped = await server.metric('vellum_http_connections_dropped_total');
    assert.ok(dropped >= HOSTILE - 900, `dropped ${dropped}`);
    assert.match(
      server.output(),
      /MAX_CONNECTIONS \(900\) reached: \d+ new connection\(s\) closed on arrival/,
    );
    assert.equal(await server.metric('vellum_http_accept_errors_total{code="EMFILE"}'), 0);
    for (let i = 0; i < 50 && !/all closed/.test(hostile.output()); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(hostile.output(), /all closed/, 'every held socket was closed by the server');
  });
});
