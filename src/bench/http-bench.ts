import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from './free-port';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, positiveInt, UsageError, withUsage } from '../cli/args';
import { LOAD_OPTIONS, forkDriver } from './http-bench-driver';
import { spawnServe } from './server-process';
import { TILE_SCAN_TARGET, tileMonitorBench } from './tile-monitor-bench';

const USAGE =
  'vellum bench [--duration S] [--warmup S] [--concurrency N] [--keys N] [--entries N] [--workers N] [--batch-max-size N] [--batch-max-age-ms N] [--v2-duration S] [--profile DIR] [--keep] [--tile-entries N] [--only-tiles]';

const TARGET_RATE = 3000;
const TARGET_P99_MS = 300;
/** How long a bench server may take to close before it is killed. */
const BENCH_STOP_GRACE_MS = 15_000;

/** Single-core node:crypto ECDSA P-256 verifications per second (full message, SHA-256). */
function verifyRate(seconds: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const msg = Buffer.from('vellum bench: single-core ECDSA P-256 verify rate');
  const sig = sign('sha256', msg, privateKey);
  let n = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  while (performance.now() < until) {
    for (let i = 0; i < 200; i++)
      if (!verify('sha256', msg, publicKey, sig)) throw new Error('verify failed');
    n += 200;
  }
  return n / ((performance.now() - t0) / 1000);
}

// Linux accounting, for the report's "where did the CPU go" line; undefined elsewhere.
const CLK_TCK = 100;

function processCpuSec(pid: number | undefined, path = `/proc/${pid}/stat`): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** CPU seconds per thread of a process (Linux), keyed by thread id. */
function threadCpuSec(pid: number | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (pid === undefined) return out;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const v = processCpuSec(Number(tid), `/proc/${pid}/task/${tid}/stat`);
      if (v !== undefined) out.set(Number(tid), v);
    }
  } catch {
    // not Linux, or the process is gone
  }
  return out;
}

function machineCpuSec(): { busy: number; all: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const all = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (all - idle) / CLK_TCK, all: all / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** A bench server's environment: a fresh embedded log on 127.0.0.1:port, whatever the caller's shell sets. */
function benchServerEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    LOG_HOSTNAME: `127.0.0.1:${port}`,
  };
  delete env.SIGNING_KEY_PATH;
  delete env.DATABASE_URL;
  return env;
}

/** The tile-mode monitor scan and tile reads (see tile-monitor-bench.ts); false if the target was missed. */
async function runTileMonitorBench(entries: number): Promise<boolean> {
  const f = await tileMonitorBench(
    entries,
    async (dataDir, port) => {
      const env = benchServerEnv(dataDir, port);
      delete env.REDIS_URL;
      delete env.ROLE;
      // Only the tile reads are measured: the in-server monitor would compete for the same cores.
      env.MONITOR_ENABLED = 'false';
      const s = await spawnServe({ name: 'tile bench server', env });
      return { url: s.url, stop: () => s.stop(BENCH_STOP_GRACE_MS).then(() => undefined) };
    },
    (line) => process.stdout.write(line + '\n'),
  );
  const ok = f.entriesPerSecond >= TILE_SCAN_TARGET;
  process.stdout.write(
    [
      `tile monitor scan  ${Math.round(f.entriesPerSecond)} entries/s verified  (${f.entries} entries from tiles in ${f.scanSeconds.toFixed(2)} s wall, ${f.scanCpuSeconds.toFixed(2)} s monitor CPU = ${Math.round(f.entries / f.scanCpuSeconds)} entries per CPU-second; ${f.scanTileReads} tile/bundle GETs; log built in ${f.buildSeconds.toFixed(1)} s)`,
      `  with one rule    ${Math.round(f.rulesEntriesPerSecond)} entries/s  (${f.rulesScanSeconds.toFixed(2)} s wall, ${f.rulesCpuSeconds.toFixed(2)} s CPU: identity extraction and evaluation of every entry)`,
      `tile reads/s       ${Math.round(f.tileReadsPerSecond)}  (full hash tiles and entry bundles, 16 in flight)`,
      `target             >= ${TILE_SCAN_TARGET} entries/s: ${ok ? 'met' : 'NOT met'}`,
    ].join('\n') + '\n',
  );
  return ok;
}

/**
 * `vellum bench`: a fresh server on a temp data dir (child process), a load generator in another
 * process, pre-signed distinct hashedrekord entries, then throughput, latency and a no-loss check.
 */
export function benchCommand(argv: string[]): Promise<number> {
  // `--distributed`: the same load against API + sequencer processes on Redis and PostgreSQL.
  if (argv.includes('--distributed')) {
    return import('./distributed-bench').then((m) =>
      m.distributedBenchCommand(argv.filter((x) => x !== '--distributed')),
    );
  }
  return withUsage(async () => {
    const a = parse(argv, {
      ...LOAD_OPTIONS,
      'v2-duration': { type: 'string' },
      'tile-entries': { type: 'string' },
      'only-tiles': { type: 'boolean', default: false },
    });
    const tileEntries = positiveInt('tile-entries', a['tile-entries'], 100_000);
    if (a['only-tiles'] === true) return (await runTileMonitorBench(tileEntries)) ? 0 : 1;
    const durationSec = positiveInt('duration', a.duration, 20);
    const warmupSec = a.warmup === '0' ? 0 : positiveInt('warmup', a.warmup, 2);
    const concurrency = positiveInt('concurrency', a.concurrency, 512);
    const keys = positiveInt('keys', a.keys, 4);
    const entries = positiveInt('entries', a.entries, Math.min(600_000, (durationSec + warmupSec) * 7000));
    // The Rekor v2 write API, driven after the v1 run against the same server (same tree).
    const v2DurationSec = a['v2-duration'] === '0' ? 0 : positiveInt('v2-duration', a['v2-duration'], 10);
    if (a.workers !== undefined && !/^[0-9]+$/.test(String(a.workers)))
      throw new UsageError('--workers must be >= 0');

    const dataDir = mkdtempSync(join(tmpdir(), 'vellum-bench-'));
    const port = await freePort();
    const env = benchServerEnv(dataDir, port);
    if (a.workers !== undefined) env.VERIFY_WORKERS = String(a.workers);
    if (a['batch-max-size'] !== undefined) env.BATCH_MAX_SIZE = String(a['batch-max-size']);
    if (a['batch-max-age-ms'] !== undefined) env.BATCH_MAX_AGE_MS = String(a['batch-max-age-ms']);
    const nodeArgs: string[] = [];
    if (typeof a.profile === 'string') {
      const dir = resolve(a.profile);
      mkdirSync(dir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
    }

    process.stdout.write(
      `vellum bench: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ` +
        `data dir ${dataDir}\n`,
    );
    const server = await spawnServe({ name: 'bench server', env, nodeArgs });
    process.stdout.write(
      `  server: ${server.url} (VERIFY_WORKERS=${env.VERIFY_WORKERS ?? `default ${availableParallelism()}`})\n`,
    );
    let code = 0;
    try {
      const driverStart = {
        server: 0,
        machine: machineCpuSec(),
        wall: 0,
        threads: new Map<number, number>(),
      };
      const r = await forkDriver(
        { urls: [server.url], durationSec, warmupSec, concurrency, keys, entries },
        () => {
          // Sampled when generation ends and the load starts, so only the timed run is counted.
          driverStart.server = processCpuSec(server.child.pid) ?? 0;
          driverStart.threads = threadCpuSec(server.child.pid);
          driverStart.machine = machineCpuSec();
          driverStart.wall = performance.now();
        },
      );
      const loadWall = (performance.now() - driverStart.wall) / 1000;
      const serverCpu = (processCpuSec(server.child.pid) ?? NaN) - driverStart.server;
      const m1 = machineCpuSec();
      const threads = [...threadCpuSec(server.child.pid)]
        .map(([tid, sec]) => ({ tid, sec: sec - (driverStart.threads.get(tid) ?? 0) }))
        .sort((x, y) => y.sec - x.sec);
      const mainThread = threads.find((t) => t.tid === server.child.pid)?.sec ?? NaN;
      // The busiest non-main threads are the verification workers; the rest is V8 (GC, compiler) and libuv.
      const others = threads.filter((t) => t.tid !== server.child.pid);
      const machineBusy = m1 && driverStart.machine ? m1.busy - driverStart.machine.busy : NaN;

      // Measured while the server idles, on the same machine and in the same run.
      const vRate = verifyRate(3);

      const v2 =
        v2DurationSec === 0
          ? undefined
          : await forkDriver(
              {
                urls: [server.url],
                durationSec: v2DurationSec,
                warmupSec: Math.min(warmupSec, 1),
                concurrency,
                keys,
                entries: Math.min(300_000, (v2DurationSec + 1) * 7000),
                api: 2,
              },
              () => {},
            );
      const totalAccepted = r.totalAccepted + (v2?.totalAccepted ?? 0);
      const info = (await (await fetch(`${server.url}/api/v1/log`)).json()) as { treeSize: number };
      const rate = r.measuredAccepted / r.measuredSec;
      const okRate = rate >= TARGET_RATE;
      const okP99 = r.latencyMs.p99 <= TARGET_P99_MS;
      const okCount = info.treeSize === totalAccepted;
      const lines = [
        '',
        `entries/s          ${rate.toFixed(0)}  (${r.measuredAccepted} accepted in ${r.measuredSec.toFixed(1)} s, ${concurrency} concurrent, after ${warmupSec} s warm-up)`,
        `latency ms         p50 ${r.latencyMs.p50.toFixed(1)}  p95 ${r.latencyMs.p95.toFixed(1)}  p99 ${r.latencyMs.p99.toFixed(1)}  max ${r.latencyMs.max.toFixed(1)}  mean ${r.latencyMs.mean.toFixed(1)}`,
        `HTTP statuses      ${Object.entries(r.statuses)
          .map(([s, n]) => `${s}: ${n}`)
          .join(', ')}${r.firstFailure ? `  (first failure: ${r.firstFailure})` : ''}`,
        `node:crypto P-256  ${vRate.toFixed(0)} verifies/s on one core; entries/s ÷ that = ${(rate / vRate).toFixed(2)}`,
        `CPU (cores used)   server ${(serverCpu / loadWall).toFixed(2)}, load driver ${(r.driverCpuSec / loadWall).toFixed(2)}, ` +
          `whole machine ${(machineBusy / loadWall).toFixed(2)} of ${cpus().length} (other processes ${((machineBusy - serverCpu - r.driverCpuSec) / loadWall).toFixed(2)})`,
        `server CPU/entry   ${((serverCpu / r.totalAccepted) * 1e6).toFixed(0)} µs: main thread ${((mainThread / r.totalAccepted) * 1e6).toFixed(0)}, ` +
          `busiest other threads ${others
            .slice(0, 4)
            .map((t) => ((t.sec / r.totalAccepted) * 1e6).toFixed(0))
            .join(
              ' / ',
            )}, rest ${((others.slice(4).reduce((a, t) => a + t.sec, 0) / r.totalAccepted) * 1e6).toFixed(0)}`,
        `projection         ${((cpus().length * 1e6) / (((serverCpu + r.driverCpuSec) / r.totalAccepted) * 1e6)).toFixed(0)} entries/s if server and driver had ${cpus().length} idle cores (CPU-bound estimate)`,
        ...(v2
          ? [
              `v2 entries/s       ${(v2.measuredAccepted / v2.measuredSec).toFixed(0)}  (POST /api/v2/log/entries: ${v2.measuredAccepted} accepted in ${v2.measuredSec.toFixed(1)} s, ${concurrency} concurrent)`,
              `v2 latency ms      p50 ${v2.latencyMs.p50.toFixed(1)}  p95 ${v2.latencyMs.p95.toFixed(1)}  p99 ${v2.latencyMs.p99.toFixed(1)}  max ${v2.latencyMs.max.toFixed(1)}  mean ${v2.latencyMs.mean.toFixed(1)}`,
              `v2 HTTP statuses   ${Object.entries(v2.statuses)
                .map(([st, n]) => `${st}: ${n}`)
                .join(', ')}${v2.firstFailure ? `  (first failure: ${v2.firstFailure})` : ''}`,
            ]
          : []),
        `tree size          ${info.treeSize}, accepted ${totalAccepted}${v2 ? ` (v1 ${r.totalAccepted} + v2 ${v2.totalAccepted})` : ''}: ${okCount ? 'OK, no loss, no duplicates' : 'MISMATCH'}`,
        `target             >= ${TARGET_RATE}/s: ${okRate ? 'met' : 'NOT met'}; p99 <= ${TARGET_P99_MS} ms: ${okP99 ? 'met' : 'NOT met'}`,
      ];
      if (r.exhausted)
        lines.push(
          `note: all ${r.generated} pre-generated entries were used before the end; raise --entries`,
        );
      process.stdout.write(lines.join('\n') + '\n');
      if (!okCount || r.errors > 0 || (v2?.errors ?? 0) > 0) code = 1;
    } finally {
      await server.stop(BENCH_STOP_GRACE_MS);
      // The tile-mode monitor scan runs on its own log, once this server no longer takes the CPU.
      if (!(await runTileMonitorBench(tileEntries))) code = 1;
      if (typeof a.profile === 'string')
        process.stdout.write(`CPU profile of the server written to ${resolve(a.profile)}\n`);
      if (a.keep) process.stdout.write(`kept ${dataDir}\n`);
      else rmSync(dataDir, { recursive: true, force: true });
    }
    return code;
  }, USAGE);
}
