import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { freePort } from './free-port';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { parse, positiveInt, withUsage } from '../cli/args';
import { LOAD_OPTIONS, forkDriver } from './http-bench-driver';
import { type ServeProcess, deleteRedisKeys, spawnServe, writeP256KeyFile } from './server-process';
import { cpuSecOfCommand, machineCpuSec, processCpuSec } from './proc-stats';

const cpuSec = (pid: number | undefined): number => processCpuSec(pid) ?? 0;
const postgresCpuSec = (): number => cpuSecOfCommand('postgres');
const machineBusySec = (): number => machineCpuSec()?.busy ?? 0;

/**
 * `vellum bench --distributed`: the HTTP benchmark's load against the multi-process deployment —
 * two ROLE=api processes and one ROLE=sequencer process on Redis (BullMQ) and PostgreSQL, each a
 * child process on this machine — then the same figures (entries/s, p50/p95/p99) and a check that
 * every acknowledged entry is in the log exactly once and nothing else is.
 */

const USAGE =
  'vellum bench --distributed [--duration S] [--warmup S] [--concurrency N] [--keys N] [--api N] [--workers N] ' +
  '[--batch-max-size N] [--batch-max-age-ms N] [--redis-url URL] [--pg-admin-url URL] [--profile DIR] [--keep]';

const TARGET_RATE = 1500;
const TARGET_P99_MS = 500;

function redisPid(url: string): Promise<number | undefined> {
  // Best effort, for the CPU line only (a Redis on another host reports a pid that is not ours).
  const c = new IORedis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  return c
    .info('server')
    .then((s) => Number(/process_id:(\d+)/.exec(s)?.[1]) || undefined)
    .catch(() => undefined)
    .finally(() => c.disconnect());
}

export function distributedBenchCommand(argv: string[]): Promise<number> {
  return withUsage(async () => {
    const a = parse(argv, {
      ...LOAD_OPTIONS,
      api: { type: 'string' },
      'redis-url': { type: 'string' },
      'pg-admin-url': { type: 'string' },
    });
    const nodeArgs =
      typeof a.profile === 'string' ? ['--cpu-prof', `--cpu-prof-dir=${resolve(a.profile)}`] : [];
    const durationSec = positiveInt('duration', a.duration, 20);
    const warmupSec = a.warmup === '0' ? 0 : positiveInt('warmup', a.warmup, 2);
    const concurrency = positiveInt('concurrency', a.concurrency, 512);
    const keys = positiveInt('keys', a.keys, 4);
    const apis = positiveInt('api', a.api, 2);
    const entries = positiveInt('entries', a.entries, Math.min(400_000, (durationSec + warmupSec) * 3500));
    const redisUrl = typeof a['redis-url'] === 'string' ? a['redis-url'] : 'redis://127.0.0.1:6379';
    const adminUrl =
      typeof a['pg-admin-url'] === 'string'
        ? a['pg-admin-url']
        : 'postgres://postgres@127.0.0.1:5432/postgres';

    const dir = mkdtempSync(join(tmpdir(), 'vellum-dbench-'));
    const dbName = `vellum_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const dbUrl = new URL(adminUrl);
    dbUrl.pathname = `/${dbName}`;
    const keyPath = join(dir, 'log-key.pem');
    writeP256KeyFile(keyPath);
    const base: NodeJS.ProcessEnv = {
      ...process.env,
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: redisUrl,
      REDIS_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
      QUEUE_HMAC_KEY: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'warn',
      LOG_HOSTNAME: 'vellum.bench',
      NO_PROXY: '127.0.0.1,localhost',
    };
    delete base.PUBLIC_KEY_PATH;
    if (a['batch-max-size'] !== undefined) base.BATCH_MAX_SIZE = String(a['batch-max-size']);
    if (a['batch-max-age-ms'] !== undefined) base.BATCH_MAX_AGE_MS = String(a['batch-max-age-ms']);
    const verifyWorkers = a.workers !== undefined ? String(a.workers) : '1';

    process.stdout.write(
      `vellum bench --distributed: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}\n` +
        `  ${apis} x ROLE=api (VERIFY_WORKERS=${verifyWorkers}) + 1 x ROLE=sequencer; Redis ${redisUrl}, PostgreSQL database ${dbName}\n`,
    );
    const procs: ServeProcess[] = [];
    let code = 0;
    try {
      procs.push(
        await spawnServe({
          name: 'sequencer',
          env: { ...base, ROLE: 'sequencer', PORT: String(await freePort()), SIGNING_KEY_PATH: keyPath },
          nodeArgs,
        }),
      );
      for (let i = 0; i < apis; i++) {
        procs.push(
          await spawnServe({
            name: `api-${i + 1}`,
            env: { ...base, ROLE: 'api', PORT: String(await freePort()), VERIFY_WORKERS: verifyWorkers },
            nodeArgs,
          }),
        );
      }
      const apiUrls = procs.slice(1).map((p) => p.url);
      const rPid = await redisPid(redisUrl);
      let cpuStart: number[] = [];
      let pgStart = 0;
      let machineStart = 0;
      let wallStart = 0;
      const pids = [...procs.map((p) => p.child.pid), rPid];
      const r = await forkDriver(
        { urls: apiUrls, durationSec, warmupSec, concurrency, keys, entries },
        () => {
          cpuStart = pids.map(cpuSec);
          pgStart = postgresCpuSec();
          machineStart = machineBusySec();
          wallStart = performance.now();
        },
      );
      const cpuUsed = pids.map((p, i) => cpuSec(p) - (cpuStart[i] ?? 0));
      const pgUsed = postgresCpuSec() - pgStart;
      const wall = (performance.now() - wallStart) / 1000;
      const machineUsed = machineBusySec() - machineStart;

      // No loss, no duplicate: the log holds exactly as many distinct entries as were answered
      // 201 (each body was sent once), at indices 0..n-1, and the signed size says the same.
      const info = (await (await fetch(`${apiUrls[0]}/api/v1/log`)).json()) as { treeSize: number };
      const pg = new Client({ connectionString: dbUrl.toString() });
      await pg.connect();
      const row = (
        await pg.query(
          'SELECT COUNT(*) AS n, COUNT(DISTINCT leaf_hash) AS d, COALESCE(MIN(idx), 0) AS lo, COALESCE(MAX(idx), -1) AS hi FROM entries',
        )
      ).rows[0] as { n: string; d: string; lo: string; hi: string };
      await pg.end();
      const n = Number(row.n);
      const okCount =
        n === r.totalAccepted &&
        Number(row.d) === n &&
        Number(row.lo) === 0 &&
        Number(row.hi) === n - 1 &&
        info.treeSize === n;
      const rate = r.measuredAccepted / r.measuredSec;
      const okRate = rate >= TARGET_RATE;
      const okP99 = r.latencyMs.p99 <= TARGET_P99_MS;
      const names = [...procs.map((p) => p.name), 'redis'];
      const m = await (await fetch(`${procs[0]!.url}/metrics`)).text();
      const mean = (h: string, scale = 1) => {
        const sum = Number(new RegExp(`^${h}_sum (\\S+)`, 'm').exec(m)?.[1]);
        const count = Number(new RegExp(`^${h}_count (\\S+)`, 'm').exec(m)?.[1]);
        return count > 0 ? ((sum / count) * scale).toFixed(1) : '-';
      };
      const lines = [
        '',
        `entries/s          ${rate.toFixed(0)}  (${r.measuredAccepted} accepted in ${r.measuredSec.toFixed(1)} s, ${concurrency} concurrent, after ${warmupSec} s warm-up)`,
        `latency ms         p50 ${r.latencyMs.p50.toFixed(1)}  p95 ${r.latencyMs.p95.toFixed(1)}  p99 ${r.latencyMs.p99.toFixed(1)}  max ${r.latencyMs.max.toFixed(1)}  mean ${r.latencyMs.mean.toFixed(1)}`,
        `HTTP statuses      ${Object.entries(r.statuses)
          .map(([s, c]) => `${s}: ${c}`)
          .join(', ')}${r.firstFailure ? `  (first failure: ${r.firstFailure})` : ''}`,
        `sequencer (means)  batch ${mean('vellum_batch_size')} entries, oldest entry ${mean('vellum_batch_age_seconds', 1000)} ms old at cut, ` +
          `batch ${mean('vellum_batch_duration_seconds', 1000)} ms, queue wait ${mean('vellum_queue_wait_seconds', 1000)} ms, ` +
          `sequencing ${mean('vellum_sequencing_latency_seconds', 1000)} ms`,
        `CPU seconds        ${names.map((nm, i) => `${nm} ${cpuUsed[i]!.toFixed(1)}`).join(', ')}, postgres ${pgUsed.toFixed(1)}; ` +
          `whole machine ${machineUsed.toFixed(1)} in ${wall.toFixed(1)} s (${(machineUsed / wall).toFixed(2)} of ${cpus().length} cores busy)`,
        `log                ${n} entries, ${row.d} distinct, tree size ${info.treeSize}, accepted ${r.totalAccepted}: ${okCount ? 'OK, no loss, no duplicates' : 'MISMATCH'}`,
        `target             >= ${TARGET_RATE}/s: ${okRate ? 'met' : 'NOT met'}; p99 <= ${TARGET_P99_MS} ms: ${okP99 ? 'met' : 'NOT met'}`,
      ];
      if (r.exhausted)
        lines.push('note: all pre-generated entries were used before the end; raise --entries');
      process.stdout.write(lines.join('\n') + '\n');
      if (!okCount) code = 1;
    } finally {
      await Promise.all(procs.map((p) => p.stop(15_000)));
      if (a.keep) {
        process.stdout.write(`kept ${dir} and database ${dbName}\n`);
      } else {
        rmSync(dir, { recursive: true, force: true });
        await deleteRedisKeys(redisUrl, String(base.REDIS_PREFIX), true);
        const c = new Client({ connectionString: adminUrl });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        await c.end();
      }
    }
    return code;
  }, USAGE);
}
