/**
 * Tile-mode monitor bench: a log of `entries` entries is written in-process through the real
 * write path (WRITE_PATH → sequencer → one transaction per batch, tiles and checkpoint included;
 * entry signatures are not verified, the bodies are well-formed hashedrekord entries built here),
 * then served by a `vellum serve` child process, and scanned from its tiles by the independent
 * monitor (`LogTailer`, tiles mode, no state: every entry hashed and proven), once with no rules
 * (the verification rate, which the target is about) and once with one identity rule.
 * Also measures full-tile GETs per second against the same server.
 *
 * Targets (issue 10): the scan verifies >= 50,000 entries/s, i.e. 100,000 entries in under 2 s.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalBytes } from '../core/jcs';
import { LogPublicKey } from '../core/keys';
import { leafHash } from '../core/merkle/hash';
import { parseRulesYaml } from '../core/monitor';
import { entryBundlePath, tilePath } from '../core/tiles/tiles';
import { LogTailer } from '../cli/monitor/tailer';
import { createApp } from '../main';
import { loadConfig } from '../modules/config/config';
import { WRITE_PATH, type WritePath } from '../modules/write-path/write-path';
import { freePort } from './free-port';

export const TILE_SCAN_TARGET = 50_000;

/** A rule that matches nothing in the bench log: every entry is still parsed and evaluated. */
const RULES = `
apiVersion: monitor.vellum/v1
kind: IdentityRule
metadata: {name: bench-watch}
spec:
  scope:
    - emailRegExp: '.*@example\\.com'
`;

function benchBodies(n: number): Buffer[] {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }).toString()).toString('base64');
  const sig = randomBytes(71).toString('base64');
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const digest = createHash('sha256').update(`vellum bench entry ${i}`).digest('hex');
    out.push(
      canonicalBytes({
        apiVersion: '0.0.1',
        kind: 'hashedrekord',
        spec: {
          data: { hash: { algorithm: 'sha256', value: digest } },
          signature: { content: sig, publicKey: { content: pem } },
        },
      }),
    );
  }
  return out;
}

/** Writes `n` entries through the in-process write path into a fresh data dir. */
async function buildLog(dataDir: string, n: number, servePort: number): Promise<{ seconds: number }> {
  const port = await freePort();
  const config = loadConfig(
    {
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      // The name the serving process will sign with, so its checkpoints and these agree.
      LOG_HOSTNAME: `127.0.0.1:${servePort}`,
      LOG_LEVEL: 'error',
      MONITOR_ENABLED: 'false',
      BATCH_MAX_SIZE: '5000',
      BATCH_MAX_AGE_MS: '5',
      MAX_PENDING: '1000000',
    },
    dataDir,
  );
  const app = await createApp(config, { swaggerUi: false });
  try {
    const writer = app.get<WritePath>(WRITE_PATH);
    const bodies = benchBodies(n);
    const t0 = performance.now();
    const inFlight = 20_000;
    for (let start = 0; start < n; start += inFlight) {
      const part = bodies.slice(start, start + inFlight);
      await Promise.all(
        part.map((body) =>
          writer.submit({
            kind: 'hashedrekord',
            apiVersion: '0.0.1',
            body,
            leafHash: leafHash(body),
            indexKeys: [],
          }),
        ),
      );
    }
    return { seconds: (performance.now() - t0) / 1000 };
  } finally {
    await app.close();
  }
}

export interface TileMonitorFigures {
  readonly entries: number;
  readonly buildSeconds: number;
  readonly scanSeconds: number;
  readonly entriesPerSecond: number;
  /** CPU time of the monitor process during the verify-only scan. */
  readonly scanCpuSeconds: number;
  readonly scanTileReads: number;
  /** The same scan with one identity rule: every entry's identity is extracted and evaluated. */
  readonly rulesScanSeconds: number;
  readonly rulesEntriesPerSecond: number;
  readonly rulesCpuSeconds: number;
  readonly tileReadsPerSecond: number;
}

/** Full tiles and bundles GET per second (16 in flight) for `seconds`. */
async function tileReadRate(url: string, size: number, seconds: number): Promise<number> {
  const fullTiles = Math.floor(size / 256);
  const paths: string[] = [];
  for (let n = 0; n < fullTiles; n++) paths.push(tilePath(0, n), entryBundlePath(n));
  for (let n = 0; n < Math.floor(fullTiles / 256); n++) paths.push(tilePath(1, n));
  let done = 0;
  const until = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      for (let i = w; performance.now() < until; i += 16) {
        const res = await fetch(`${url}/${paths[i % paths.length]!}`);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`GET ${paths[i % paths.length]}: HTTP ${res.status}`);
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

/**
 * Builds the log, serves it with `serve` (a child process started by the caller's helper), scans
 * it from tiles, measures tile reads. `startServer` gets the data dir and the port to listen on
 * (the log was signed for that name) and returns the URL and a stop.
 */
export async function tileMonitorBench(
  entries: number,
  startServer: (dataDir: string, port: number) => Promise<{ url: string; stop: () => Promise<void> }>,
  log: (line: string) => void,
): Promise<TileMonitorFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vellum-tile-bench-'));
  try {
    log(`tile-mode monitor: writing ${entries} entries in-process...`);
    const port = await freePort();
    const built = await buildLog(dataDir, entries, port);
    log(
      `  built in ${built.seconds.toFixed(1)} s (${Math.round(entries / built.seconds)} entries/s through the sequencer)`,
    );
    const server = await startServer(dataDir, port);
    try {
      const publicKey = LogPublicKey.fromPem(
        await (await fetch(`${server.url}/api/v1/log/publicKey`)).text(),
      );
      const scan = async (rules: string, name: string) => {
        const tailer = new LogTailer({
          logUrl: server.url,
          publicKey,
          rules: rules === '' ? [] : parseRulesYaml(rules).rules,
          statePath: join(dataDir, `monitor-state-${name}.json`),
          concurrency: 16,
          tiles: true,
          saveEveryEntries: 25_600,
          out: () => undefined,
          err: () => undefined,
        });
        const cpu0 = process.cpuUsage();
        const r = await tailer.pass();
        const cpu = process.cpuUsage(cpu0);
        if (r.status !== 'ok' || r.scanned !== entries)
          throw new Error(`tile scan ${r.status} after ${r.scanned} entries: ${r.reason ?? ''}`);
        return { ...r, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
      };
      const verifyOnly = await scan('', 'verify');
      const withRules = await scan(RULES, 'rules');
      const tileReadsPerSecond = await tileReadRate(server.url, entries, 3);
      return {
        entries,
        buildSeconds: built.seconds,
        scanSeconds: verifyOnly.seconds,
        entriesPerSecond: verifyOnly.entriesPerSecond,
        scanCpuSeconds: verifyOnly.cpuSeconds,
        scanTileReads: verifyOnly.tileReads ?? 0,
        rulesScanSeconds: withRules.seconds,
        rulesEntriesPerSecond: withRules.entriesPerSecond,
        rulesCpuSeconds: withRules.cpuSeconds,
        tileReadsPerSecond,
      };
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
