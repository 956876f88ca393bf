import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, positiveInt, withUsage } from '../cli/args';
import { freePort } from './free-port';
import { type PhaseResult, forkPhases } from './http-bench-driver';
import { type LatencySummary, summarize } from './latency';
import { type ServeProcess, benchServerEnv, spawnServe } from './server-process';

/**
 * `vellum bench --scale` (not run in CI): the cost of a big log on the embedded default. Appends
 * on an empty log, fills it through the HTTP write path to N entries, then reports database bytes
 * per entry, start-up time on that file, inclusion and consistency proof latency over HTTP, and
 * the same appends at that size.
 */

const USAGE =
  'vellum bench --scale [--scale-entries N] [--concurrency N] [--append-sec S] [--proof-requests N] [--chunk N] [--keys N] [--keep]';

const STOP_GRACE_MS = 60_000;

function get(agent: Agent, url: URL): Promise<number> {
  return new Promise((res, rej) => {
    const req = request(url, { agent }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode ?? 0));
    });
    req.on('error', rej);
    req.end();
  });
}

/** `count` GETs of `pathFor(i)` with `inFlight` at once; latency per request in ms. */
async function timedGets(base: string, count: number, inFlight: number, pathFor: (i: number) => string) {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const lat = new Float64Array(count);
  let next = 0;
  let bad = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        if ((await get(agent, new URL(pathFor(i), base))) !== 200) bad++;
        lat[i] = performance.now() - t0;
      }
    }),
  );
  agent.destroy();
  return { latency: summarize(lat), bad };
}

function dbBytes(dir: string): { total: number; files: string } {
  let total = 0;
  const files: string[] = [];
  for (const f of readdirSync(dir)) {
    if (!/\.(db|sqlite)(-wal|-shm)?$/.test(f)) continue;
    const n = statSync(join(dir, f)).size;
    total += n;
    files.push(`${f} ${(n / 2 ** 20).toFixed(1)} MiB`);
  }
  return { total, files: files.join(', ') };
}

async function readyAfter(s: ServeProcess, t0: number): Promise<number> {
  for (;;) {
    const r = await fetch(`${s.url}/ready`).catch(() => undefined);
    if (r?.status === 200) return performance.now() - t0;
    await new Promise((res) => setTimeout(res, 10));
  }
}

const ms = (l: LatencySummary) =>
  `p50 ${l.p50.toFixed(2)}  p99 ${l.p99.toFixed(2)}  max ${l.max.toFixed(1)} ms`;
const rate = (r: PhaseResult) => r.measuredAccepted / r.measuredSec;

export function scaleBenchCommand(argv: string[]): Promise<number> {
  return withUsage(async () => {
    const a = parse(argv, {
      'scale-entries': { type: 'string' },
      concurrency: { type: 'string' },
      'append-sec': { type: 'string' },
      'proof-requests': { type: 'string' },
      chunk: { type: 'string' },
      keys: { type: 'string' },
      keep: { type: 'boolean', default: false },
    });
    const target = positiveInt('scale-entries', a['scale-entries'], 1_000_000);
    const concurrency = positiveInt('concurrency', a.concurrency, 256);
    const appendSec = positiveInt('append-sec', a['append-sec'], 10);
    const proofRequests = positiveInt('proof-requests', a['proof-requests'], 4000);
    const chunk = positiveInt('chunk', a.chunk, 25_000);
    const keys = positiveInt('keys', a.keys, 4);
    const dataDir = mkdtempSync(join(tmpdir(), 'vellum-scale-'));
    const env = benchServerEnv(dataDir, await freePort());
    env.MONITOR_ENABLED = 'false';
    const log = (s: string) => process.stdout.write(s + '\n');
    log(
      `vellum bench --scale: ${target} entries, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, data dir ${dataDir}`,
    );
    // Appends: a closed loop long enough to pass the warm-up, on this server as it is now.
    const appends = async (s: ServeProcess) =>
      (
        await forkPhases({
          urls: [s.url],
          keys,
          entries: (appendSec + 2) * 6000,
          phases: [{ kind: 'closed', concurrency, warmupSec: 2, durationSec: appendSec }],
        })
      ).phases[0]!;
    let server = await spawnServe({ name: 'scale server', env });
    let code = 0;
    try {
      const empty = await appends(server);
      log(`append, empty log  ${rate(empty).toFixed(0)} entries/s, latency ${ms(empty.latencyMs)}`);
      let size = empty.accepted;
      const fill0 = performance.now();
      while (size < target) {
        const n = Math.min(chunk, target - size);
        const r = await forkPhases({
          urls: [server.url],
          keys,
          entries: n,
          phases: [{ kind: 'closed', concurrency, warmupSec: 0, durationSec: 3600 }],
        });
        if (r.totalAccepted !== n)
          throw new Error(`fill: ${r.totalAccepted} of ${n} accepted: ${r.phases[0]!.firstFailure}`);
        size += n;
        const perSec = (size - empty.accepted) / ((performance.now() - fill0) / 1000);
        log(
          `  filled ${size} / ${target}  (${perSec.toFixed(0)} entries/s, ETA ${((target - size) / perSec).toFixed(0)} s)`,
        );
      }
      await server.stop(STOP_GRACE_MS);
      const bytes = dbBytes(dataDir);
      log(
        `database           ${(bytes.total / 2 ** 20).toFixed(1)} MiB = ${(bytes.total / size).toFixed(0)} bytes/entry (${bytes.files}; after a clean shutdown)`,
      );

      const t0 = performance.now();
      server = await spawnServe({ name: 'scale server (restart)', env });
      const listening = performance.now() - t0;
      const ready = await readyAfter(server, t0);
      log(
        `start-up           listening after ${listening.toFixed(0)} ms, /ready 200 after ${ready.toFixed(0)} ms (spawn to answer, Node start-up included)`,
      );

      const rnd = (n: number) => Math.floor(Math.random() * n);
      const inc = await timedGets(
        server.url,
        proofRequests,
        8,
        () => `/api/v1/log/entries?logIndex=${rnd(size)}`,
      );
      log(
        `inclusion proofs   ${ms(inc.latency)}  (GET /api/v1/log/entries?logIndex=random, ${proofRequests} requests, 8 in flight${inc.bad ? `, ${inc.bad} not 200` : ''})`,
      );
      const con = await timedGets(
        server.url,
        proofRequests,
        8,
        () => `/api/v1/log/proof?firstSize=${1 + rnd(size - 1)}&lastSize=${size}`,
      );
      log(
        `consistency proofs ${ms(con.latency)}  (GET /api/v1/log/proof?firstSize=random&lastSize=${size}${con.bad ? `, ${con.bad} not 200` : ''})`,
      );
      const full = await appends(server);
      const ratio = rate(full) / rate(empty);
      log(
        `append at ${size}  ${rate(full).toFixed(0)} entries/s, latency ${ms(full.latencyMs)}: ${(ratio * 100).toFixed(0)}% of the empty log's`,
      );
      log(
        `targets            start-up < 1 s: ${ready < 1000 ? 'met' : 'NOT met'}; proof p99 < 5 ms: ${Math.max(inc.latency.p99, con.latency.p99) < 5 ? 'met' : 'NOT met'}; ` +
          `append within 10%: ${ratio >= 0.9 ? 'met' : 'NOT met'}`,
      );
      if (inc.bad + con.bad > 0 || empty.errors + full.errors > 0) code = 1;
    } finally {
      await server.stop(STOP_GRACE_MS);
      if (a.keep) log(`kept ${dataDir}`);
      else rmSync(dataDir, { recursive: true, force: true });
    }
    return code;
  }, USAGE);
}
