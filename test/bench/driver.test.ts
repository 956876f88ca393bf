import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { drive } from '../../src/bench/http-bench-driver';

/**
 * The load driver against a server that answers one request at a time, SERVICE_MS each
 * (capacity 1000 / SERVICE_MS per second): the open loop must show the queue that forms when it
 * offers more than that, where the closed loop just slows down and hides it.
 */
const SERVICE_MS = 20;

describe('bench load driver', () => {
  let server: Server;
  let url: string;
  let served = 0;
  before(async () => {
    let busyUntil = 0;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const now = performance.now();
        busyUntil = Math.max(busyUntil, now) + SERVICE_MS;
        setTimeout(() => {
          served++;
          res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
        }, busyUntil - now);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('open loop under capacity: every due request is sent, latency near the service time', async () => {
    served = 0;
    const run = await drive(
      {
        urls: [url],
        keys: 1,
        entries: 100,
        phases: [{ kind: 'open', rate: 25, settleSec: 0, durationSec: 2 }],
      },
      () => {},
    );
    const r = run.phases[0]!;
    assert.equal(r.accepted, 50, 'rate x duration requests');
    assert.equal(served, 50);
    assert.equal(r.latencyMs.count, 50);
    assert.ok(r.latencyMs.p50 >= SERVICE_MS && r.latencyMs.p50 < SERVICE_MS * 4, `p50 ${r.latencyMs.p50}`);
    assert.ok(r.sendLagMs !== undefined && r.sendLagMs.p50 < 15, 'the driver keeps its schedule');
  });

  test('open loop over capacity: latency from the due time grows with the queue; the closed loop hides it', async () => {
    // 100/s offered for 2 s against 50/s: the last request is due at ~2 s and answered at ~4 s.
    const open = (
      await drive(
        {
          urls: [url],
          keys: 1,
          entries: 300,
          phases: [{ kind: 'open', rate: 100, settleSec: 0, durationSec: 2 }],
        },
        () => {},
      )
    ).phases[0]!;
    assert.equal(open.accepted, 200);
    assert.ok(open.latencyMs.max > 1500, `max ${open.latencyMs.max} ms shows the queue`);
    assert.ok(open.latencyMs.p50 > 500, `p50 ${open.latencyMs.p50}`);
    const achieved = open.measuredAccepted / open.measuredSec;
    assert.ok(achieved < 60, `achieved ${achieved}/s stays at the server's capacity, not the offered 100/s`);
    const closed = (
      await drive(
        {
          urls: [url],
          keys: 1,
          entries: 300,
          phases: [{ kind: 'closed', concurrency: 1, warmupSec: 0, durationSec: 1 }],
        },
        () => {},
      )
    ).phases[0]!;
    assert.ok(closed.latencyMs.p99 < SERVICE_MS * 4, `closed loop p99 ${closed.latencyMs.p99} ms looks fine`);
  });

  test('phases share one pool of entries: none is sent twice, and running out is reported', async () => {
    served = 0;
    const run = await drive(
      {
        urls: [url],
        keys: 1,
        entries: 30,
        phases: [
          { kind: 'closed', concurrency: 2, warmupSec: 0, durationSec: 0.3 },
          { kind: 'open', rate: 200, settleSec: 0, durationSec: 1 },
        ],
      },
      () => {},
    );
    assert.equal(run.totalAccepted, 30);
    assert.equal(served, 30);
    assert.equal(run.phases[1]!.exhausted, true);
  });
});
