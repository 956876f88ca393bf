/**
 * Hostile and slow clients against a spawned server: a connection that never finishes its request
 * is closed within the configured timeouts; an oversized body is answered 413 and read to its end
 * first, so a client still writing reads the answer; rate limiting per address is off by default
 * and, when on, answers 429 in Rekor's shape with Retry-After.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DRAIN_MAX_MS } from '../../src/modules/http/connection-limits';
import { type EdgeServer, postHead, rawClient, startEdgeServer } from '../support/edge-server';

const HEADERS_MS = 600;
const BODY_IDLE_MS = 1_000;
const REQUEST_MS = 2_000;
const KEEP_ALIVE_MS = 1_000;
/** Node checks the headers and request timeouts once a second (CONNECTION_CHECK_INTERVAL_MS). */
const CHECK_SLACK_MS = 1_500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('timeouts close connections that never finish their request', () => {
  let server: EdgeServer;
  before(async () => {
    server = await startEdgeServer({
      env: {
        HEADERS_TIMEOUT_MS: String(HEADERS_MS),
        BODY_IDLE_TIMEOUT_MS: String(BODY_IDLE_MS),
        REQUEST_TIMEOUT_MS: String(REQUEST_MS),
        KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS),
      },
    });
  });
  after(async () => {
    await server?.dispose();
  });

  test('complete headers and no body: closed after the body idle timeout', async () => {
    const c = await rawClient(server.port);
    c.socket.write(postHead(100));
    const ms = await c.closed;
    assert.ok(ms >= BODY_IDLE_MS - 50 && ms < BODY_IDLE_MS + CHECK_SLACK_MS, `closed after ${ms} ms`);
  });

  test('a body dripped a byte every 200 ms: closed at the request timeout', async () => {
    const c = await rawClient(server.port);
    c.socket.write(postHead(1000));
    const drip = setInterval(() => c.socket.writable && c.socket.write('{'), 200);
    const ms = await c.closed;
    clearInterval(drip);
    assert.ok(ms >= REQUEST_MS - 50 && ms < REQUEST_MS + CHECK_SLACK_MS, `closed after ${ms} ms`);
    assert.match(c.received(), /^HTTP\/1\.1 408 /, 'Node answers 408 before closing');
  });

  test('headers dripped a byte every 100 ms, and a connection that sends nothing: closed at the headers timeout', async () => {
    const silent = await rawClient(server.port);
    const slow = await rawClient(server.port);
    const head = postHead(10);
    let i = 0;
    const drip = setInterval(() => slow.socket.writable && slow.socket.write(head[i++ % head.length]!), 100);
    const [silentMs, slowMs] = await Promise.all([silent.closed, slow.closed]);
    clearInterval(drip);
    for (const ms of [silentMs, slowMs])
      assert.ok(ms >= HEADERS_MS - 50 && ms < HEADERS_MS + CHECK_SLACK_MS, `closed after ${ms} ms`);
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout; a slow handler is not cut off', async () => {
    const c = await rawClient(server.port);
    c.socket.write('GET /api/v1/log HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const ms = await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 200 /);
    assert.match(c.received(), /keep-alive: timeout=1/i);
    assert.ok(ms >= KEEP_ALIVE_MS - 50 && ms < KEEP_ALIVE_MS + CHECK_SLACK_MS, `closed after ${ms} ms`);

    // A complete request keeps its connection however long the answer takes to come, and
    // a connection kept busy outlives every timeout.
    const busy = await rawClient(server.port);
    const started = Date.now();
    let answers = 0;
    while (Date.now() - started < REQUEST_MS + 500) {
      busy.socket.write('GET /api/v1/log HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const want = ++answers;
      while ((busy.received().match(/HTTP\/1\.1 200 /g) ?? []).length < want) await sleep(10);
      await sleep(300);
    }
    assert.equal(busy.socket.destroyed, false, 'a busy keep-alive connection stays open');
    busy.socket.destroy();
  });
});

describe('an oversized body is answered 413, and the client reads it', () => {
  let server: EdgeServer;
  before(async () => {
    server = await startEdgeServer();
  });
  after(async () => {
    await server?.dispose();
  });

  test('30 MiB with fetch: 413 TOO_LARGE JSON in 20 of 20 tries', async () => {
    const body = Buffer.alloc(30 * 1024 * 1024, 0x20);
    let ok = 0;
    const failures: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        const res = await fetch(`${server.url}/api/v1/log/entries`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        const json = (await res.json()) as { code: number; message: string };
        assert.equal(res.status, 413);
        assert.deepEqual(json, { code: 413, message: 'Request Entity Too Large. Limit set to 4194304' });
        assert.equal(res.headers.get('connection'), 'close');
        ok++;
      } catch (e) {
        failures.push(String((e as Error & { cause?: unknown }).cause ?? e));
      }
    }
    assert.equal(ok, 20, failures.join('\n'));
  });

  test('a streamed (chunked) oversized body is answered 413 too; the server still serves', async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 16) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${server.url}/api/v2/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    const json = (await res.json()) as { code: number; message: string };
    assert.equal(json.code, 8, 'grpc-gateway ResourceExhausted under /api/v2/');
    assert.match(json.message, /Limit set to 4194304/);
    assert.equal((await fetch(`${server.url}/api/v1/log`)).status, 200);
  });

  test('a client that announces 30 MiB and stops sending is closed within the drain bound', async () => {
    const c = await rawClient(server.port);
    c.socket.write(postHead(30 * 1024 * 1024));
    c.socket.write(Buffer.alloc(64 * 1024, 0x20));
    const ms = await c.closed;
    assert.match(c.received(), /^HTTP\/1\.1 413 /);
    assert.ok(ms < DRAIN_MAX_MS + 1_000, `closed after ${ms} ms`);
  });

  test('rate limiting is off by default: 60 quick requests, no 429, no rate-limit headers', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async () => {
        const res = await fetch(`${server.url}/api/v1/log`);
        await res.arrayBuffer();
        assert.equal(res.headers.get('x-ratelimit-limit'), null);
        return res.status;
      }),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
  });
});

describe('rate limiting per client address (RATE_LIMIT_MAX)', () => {
  let server: EdgeServer;
  before(async () => {
    server = await startEdgeServer({ env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' } });
  });
  after(async () => {
    await server?.dispose();
  });

  test("the request past the limit gets 429 in Rekor's {code,message} with Retry-After; v2 in grpc-gateway shape; probes exempt", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.url}/api/v1/log`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-ratelimit-remaining'), String(2 - i));
    }
    const limited = await fetch(`${server.url}/api/v1/log`);
    assert.equal(limited.status, 429);
    const body = (await limited.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['code', 'message']);
    assert.equal(body.code, 429);
    assert.match(String(body.message), /rate limit exceeded, retry in/);
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(retryAfter));

    const v2 = await fetch(`${server.url}/api/v2/log/entries`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(v2.status, 429);
    const v2body = (await v2.json()) as Record<string, unknown>;
    assert.equal(v2body.code, 8);
    assert.match(String(v2body.message), /rate limit exceeded/);
    assert.ok(Number(v2.headers.get('retry-after')) >= 1);

    for (const path of ['/ping', '/health', '/ready', '/metrics'])
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${server.url}${path}`);
        await res.arrayBuffer();
        assert.equal(res.status, 200, path);
      }
  });
});
