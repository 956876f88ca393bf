import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse, positiveInt, UsageError, withUsage } from '../cli/args';
import { type PhaseCpu, achievedRate, phaseReport, targetLines } from './bench-report';
import { freePort } from './free-port';
import { LOAD_OPTIONS, type LoadPhase, type PhaseResult, forkDriver, forkPhases } from './http-bench-driver';
import { parseRateList } from './latency';
import { machineCpuSec, memoryMiB, processCpuSec, threadCpuSec } from './proc-stats';
import { benchServerEnv, spawnServe } from './server-process';
import { writePathSvg } from './svg-chart';
import { TILE_SCAN_TARGET, tileMonitorBench } from './tile-monitor-bench';
import { prehashVerifyRate } from './verify-rate';

const USAGE =
  'vellum bench [--concurrency N[,N...]] [--duration S] [--warmup S] [--rates R[,R...]] [--step-sec S] [--settle-sec S] ' +
  '[--skip-open] [--svg FILE] [--keys N] [--entries N] [--workers N] [--batch-max-size N] [--batch-max-age-ms N] ' +
  '[--v2-duration S] [--profile DIR] [--keep] [--tile-entries N] [--skip-tiles] [--only-tiles] | --scale [...] | --distributed [...]';

/** How long a bench server may take to close before it is killed. */
const BENCH_STOP_GRACE_MS = 15_000;
/** Entries pre-generated per second of a closed-loop phase (above what this machine sustains). */
const CLOSED_ENTRIES_PER_SEC = 6000;

/** The tile-mode monitor scan and tile reads (see tile-monitor-bench.ts); false if the target was missed. */
async function runTileMonitorBench(entries: number): Promise<boolean> {
  const f = await tileMonitorBench(
    entries,
    async (dataDir, port) => {
      const env = benchServerEnv(dataDir, port);
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

/** Samples the server's CPU (process, threads) and the machine's around each driver phase. */
class PhaseCpuMeter {
  private start: { wall: number; server: number; threads: Map<number, number>; machine: number } | undefined;
  readonly phases: PhaseCpu[] = [];

  constructor(private readonly pid: number | undefined) {}

  begin(): void {
    this.start = {
      wall: performance.now(),
      server: processCpuSec(this.pid) ?? NaN,
      threads: threadCpuSec(this.pid),
      machine: machineCpuSec()?.busy ?? NaN,
    };
  }

  end(): void {
    const s = this.start!;
    const threads = [...threadCpuSec(this.pid)].map(([tid, sec]) => ({
      tid,
      sec: sec - (s.threads.get(tid) ?? 0),
    }));
    this.phases.push({
      wallSec: (performance.now() - s.wall) / 1000,
      serverSec: (processCpuSec(this.pid) ?? NaN) - s.server,
      mainThreadSec: threads.find((t) => t.tid === this.pid)?.sec ?? NaN,
      otherThreadSecs: threads
        .filter((t) => t.tid !== this.pid)
        .map((t) => t.sec)
        .sort((a, b) => b - a),
      machineBusySec: (machineCpuSec()?.busy ?? NaN) - s.machine,
      rssMiB: memoryMiB(this.pid)?.rss,
    });
  }
}

function intList(name: string, v: unknown, dflt: number[]): number[] {
  if (v === undefined) return dflt;
  try {
    return parseRateList(name, String(v));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Where the curve goes: --svg, or docs/bench/write-path.svg when run from the repository. */
function svgPath(v: unknown): string | undefined {
  if (typeof v === 'string') return resolve(v);
  return existsSync('docs') ? resolve('docs', 'bench', 'write-path.svg') : undefined;
}

/**
 * `vellum bench`: a fresh server on a temp data dir (child process), a load generator in another
 * process, pre-signed distinct hashedrekord entries; closed-loop phases, then open-loop steps,
 * then the v2 API and the tile-mode monitor scan, with a no-loss check.
 */
export function benchCommand(argv: string[]): Promise<number> {
  if (argv.includes('--distributed'))
    return import('./distributed-bench').then((m) =>
      m.distributedBenchCommand(argv.filter((x) => x !== '--distributed')),
    );
  if (argv.includes('--scale'))
    return import('./scale-bench').then((m) => m.scaleBenchCommand(argv.filter((x) => x !== '--scale')));
  return withUsage(async () => {
    const a = parse(argv, {
      ...LOAD_OPTIONS,
      rates: { type: 'string' },
      'step-sec': { type: 'string' },
      'settle-sec': { type: 'string' },
      'skip-open': { type: 'boolean', default: false },
      svg: { type: 'string' },
      'v2-duration': { type: 'string' },
      'tile-entries': { type: 'string' },
      'only-tiles': { type: 'boolean', default: false },
      'skip-tiles': { type: 'boolean', default: false },
    });
    const tileEntries = positiveInt('tile-entries', a['tile-entries'], 100_000);
    if (a['only-tiles'] === true) return (await runTileMonitorBench(tileEntries)) ? 0 : 1;
    const durationSec = positiveInt('duration', a.duration, 10);
    const warmupSec = a.warmup === '0' ? 0 : positiveInt('warmup', a.warmup, 2);
    const concurrencies = intList('concurrency', a.concurrency, [16, 64, 256]);
    const rates = a['skip-open'] === true ? [] : intList('rates', a.rates, [500, 1000, 2000, 4000]);
    const stepSec = positiveInt('step-sec', a['step-sec'], 10);
    const settleSec = a['settle-sec'] === '0' ? 0 : positiveInt('settle-sec', a['settle-sec'], 2);
    const keys = positiveInt('keys', a.keys, 4);
    const v2DurationSec = a['v2-duration'] === '0' ? 0 : positiveInt('v2-duration', a['v2-duration'], 10);
    if (a.workers !== undefined && !/^[0-9]+$/.test(String(a.workers)))
      throw new UsageError('--workers must be >= 0');
    const phases: LoadPhase[] = [
      ...concurrencies.map((concurrency): LoadPhase => ({
        kind: 'closed',
        concurrency,
        warmupSec,
        durationSec,
      })),
      ...rates.map((rate): LoadPhase => ({ kind: 'open', rate, settleSec, durationSec: stepSec })),
    ];
    const needed =
      concurrencies.length * (warmupSec + durationSec) * CLOSED_ENTRIES_PER_SEC +
      rates.reduce((n, r) => n + Math.ceil(r * (settleSec + stepSec)), 0);
    const entries = positiveInt('entries', a.entries, needed);

    const dataDir = mkdtempSync(join(tmpdir(), 'vellum-bench-'));
    const env = benchServerEnv(dataDir, await freePort());
    if (a.workers !== undefined) env.VERIFY_WORKERS = String(a.workers);
    if (a['batch-max-size'] !== undefined) env.BATCH_MAX_SIZE = String(a['batch-max-size']);
    if (a['batch-max-age-ms'] !== undefined) env.BATCH_MAX_AGE_MS = String(a['batch-max-age-ms']);
    const nodeArgs: string[] = [];
    if (typeof a.profile === 'string') {
      mkdirSync(resolve(a.profile), { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${resolve(a.profile)}`);
    }
    const machine = `${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`;
    // Other work on the box skews every figure; the curve and the log say how busy it was before the run.
    const load = `load average ${loadavg()[0]!.toFixed(1)} before the run`;
    process.stdout.write(`vellum bench: ${machine}, ${load}, data dir ${dataDir}\n`);
    const server = await spawnServe({ name: 'bench server', env, nodeArgs });
    process.stdout.write(
      `  server: ${server.url} (VERIFY_WORKERS=${env.VERIFY_WORKERS ?? `default ${availableParallelism()}`}); load driver in another process on the same machine\n`,
    );
    let code = 0;
    try {
      const pid = server.child.pid;
      const mem0 = memoryMiB(pid);
      const meter = new PhaseCpuMeter(pid);
      const run = await forkPhases(
        { urls: [server.url], keys, entries, phases },
        { onPhaseStart: () => meter.begin(), onPhaseEnd: () => meter.end() },
      );
      const mem1 = memoryMiB(pid);
      const lines = [''];
      for (const [i, r] of run.phases.entries())
        lines.push(...phaseReport(r, meter.phases[i]!, cpus().length));
      process.stdout.write(lines.join('\n') + '\n');

      const v = prehashVerifyRate(3);
      const best = Math.max(...run.phases.map(achievedRate));
      const v2 =
        v2DurationSec === 0
          ? undefined
          : await forkDriver(
              {
                urls: [server.url],
                durationSec: v2DurationSec,
                warmupSec: Math.min(warmupSec, 1),
                concurrency: Math.max(...concurrencies),
                keys,
                entries: (v2DurationSec + 1) * CLOSED_ENTRIES_PER_SEC,
                api: 2,
              },
              () => {},
            );
      const totalAccepted = run.totalAccepted + (v2?.totalAccepted ?? 0);
      const info = (await (await fetch(`${server.url}/api/v1/log`)).json()) as { treeSize: number };
      const okCount = info.treeSize === totalAccepted;
      const mib = (m: { rss: number; peak: number } | undefined, k: 'rss' | 'peak') =>
        m ? `${m[k].toFixed(0)} MiB` : '-';
      const out = [
        '',
        `P-256 prehash      ${v.perSec.toFixed(0)} verifies/s on one core (${v.by}); best entries/s ÷ that = ${(best / v.perSec).toFixed(3)}`,
        `server RSS         ${mib(mem0, 'rss')} before the load, ${mib(mem1, 'rss')} after, peak ${mib(mem1, 'peak')}`,
        ...(v2
          ? [
              `v2 entries/s       ${(v2.measuredAccepted / v2.measuredSec).toFixed(0)}  (POST /api/v2/log/entries, ${Math.max(...concurrencies)} clients)`,
              `v2 latency ms      p50 ${v2.latencyMs.p50.toFixed(1)}  p99 ${v2.latencyMs.p99.toFixed(1)}  max ${v2.latencyMs.max.toFixed(1)}; statuses ${JSON.stringify(v2.statuses)}`,
            ]
          : []),
        `tree size          ${info.treeSize}, accepted ${totalAccepted}: ${okCount ? 'OK, no loss, no duplicates' : 'MISMATCH'}`,
        ...targetLines(run.phases),
      ];
      const open = run.phases.filter((r) => r.phase.kind === 'open');
      const svg = svgPath(a.svg);
      if (open.length > 0 && svg !== undefined) {
        const points = open.map((r) => ({
          offered: r.phase.kind === 'open' ? r.phase.rate : 0,
          achieved: achievedRate(r),
          p50Ms: r.latencyMs.p50,
          p99Ms: r.latencyMs.p99,
        }));
        mkdirSync(dirname(svg), { recursive: true });
        const when = new Date().toISOString().slice(0, 10);
        writeFileSync(
          svg,
          writePathSvg(
            points,
            'Vellum write path, open loop (embedded default)',
            `${machine}; ${load}; load driver on the same machine; ${when}`,
          ),
        );
        out.push(`curve              ${svg}`);
      }
      process.stdout.write(out.join('\n') + '\n');
      // 503 + Retry-After is the log's answer to overload, expected once an open-loop step offers more
      // than it sustains; any other failure fails the bench.
      const failed = (r: PhaseResult) => r.errors - (r.phase.kind === 'open' ? (r.statuses['503'] ?? 0) : 0);
      if (!okCount || run.phases.some((r) => failed(r) > 0) || (v2?.errors ?? 0) > 0) code = 1;
    } finally {
      await server.stop(BENCH_STOP_GRACE_MS);
      // The tile-mode monitor scan runs on its own log, once this server no longer takes the CPU.
      if (a['skip-tiles'] !== true && !(await runTileMonitorBench(tileEntries))) code = 1;
      if (typeof a.profile === 'string')
        process.stdout.write(`CPU profile of the server written to ${resolve(a.profile)}\n`);
      if (a.keep) process.stdout.write(`kept ${dataDir}\n`);
      else rmSync(dataDir, { recursive: true, force: true });
    }
    return code;
  }, USAGE);
}
