import { fork } from 'node:child_process';
import { createHash, generateKeyPairSync, KeyObject, randomBytes, sign } from 'node:crypto';
import { Agent, request } from 'node:http';

/**
 * Load generator of `vellum bench`, run as its own process (forked by http-bench.ts) so its CPU
 * is not charged to the server. Entries are generated and signed before the clock starts; the
 * timed loop only writes prepared bytes and counts answers.
 */

/** The command-line options of the load both HTTP benches drive (see DriverOptions). */
export const LOAD_OPTIONS = {
  duration: { type: 'string' },
  warmup: { type: 'string' },
  concurrency: { type: 'string' },
  keys: { type: 'string' },
  entries: { type: 'string' },
  workers: { type: 'string' },
  'batch-max-size': { type: 'string' },
  'batch-max-age-ms': { type: 'string' },
  profile: { type: 'string' },
  keep: { type: 'boolean', default: false },
} as const;

export interface DriverOptions {
  /** API base URLs; entry i goes to urls[i % urls.length] (one for the embedded bench). */
  readonly urls: readonly string[];
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly concurrency: number;
  readonly keys: number;
  readonly entries: number;
  /** Which write API to drive: Rekor v1 hashedrekord 0.0.1 (default) or v2 hashedRekordRequestV002. */
  readonly api?: 1 | 2;
}

export interface DriverResult {
  readonly generated: number;
  readonly generateSec: number;
  /** Timed window (after warm-up). */
  readonly measuredSec: number;
  readonly measuredAccepted: number;
  readonly latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  /** Whole run, warm-up included: what the tree size must equal. */
  readonly totalAccepted: number;
  readonly statuses: Record<string, number>;
  readonly errors: number;
  readonly firstFailure?: string;
  readonly exhausted: boolean;
  /** CPU seconds this driver process used during the timed run (warm-up included). */
  readonly driverCpuSec: number;
}

/** Distinct hashedrekord submissions: a few keys, a fresh random artifact digest per entry. */
export function makeHashedrekords(count: number, keys: number): Buffer[] {
  const signers: { key: KeyObject; pemB64: string }[] = [];
  for (let i = 0; i < keys; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    signers.push({ key: privateKey, pemB64: Buffer.from(pem).toString('base64') });
  }
  const out: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const s = signers[i % keys];
    // ECDSA via node:crypto hashes its input, so sign the artifact and log SHA-256(artifact).
    const artifact = randomBytes(32);
    const digest = createHash('sha256').update(artifact).digest('hex');
    const sig = sign('sha256', artifact, s.key).toString('base64');
    out[i] = Buffer.from(
      `{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"${digest}"}},` +
        `"signature":{"content":"${sig}","publicKey":{"content":"${s.pemB64}"}}}}`,
    );
  }
  return out;
}

/** Distinct Rekor v2 hashedRekordRequestV002 submissions, the form sigstore-js sends. */
export function makeV2HashedRekords(count: number, keys: number): Buffer[] {
  const signers: { key: KeyObject; spkiB64: string }[] = [];
  for (let i = 0; i < keys; i++) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    signers.push({
      key: privateKey,
      spkiB64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    });
  }
  const out: Buffer[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const s = signers[i % keys];
    const artifact = randomBytes(32);
    const digest = createHash('sha256').update(artifact).digest('base64');
    const sig = sign('sha256', artifact, s.key).toString('base64');
    out[i] = Buffer.from(
      `{"hashedRekordRequestV002":{"digest":"${digest}","signature":{"content":"${sig}",` +
        `"verifier":{"publicKey":{"rawBytes":"${s.spkiB64}"},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}`,
    );
  }
  return out;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export async function drive(
  opts: DriverOptions,
  log: (s: string) => void,
  onStart: () => void = () => {},
): Promise<DriverResult> {
  const g0 = process.hrtime.bigint();
  const v2 = opts.api === 2;
  const bodies = (v2 ? makeV2HashedRekords : makeHashedrekords)(opts.entries, opts.keys);
  const generateSec = Number(process.hrtime.bigint() - g0) / 1e9;
  log(
    `generated ${bodies.length} signed ${v2 ? 'v2' : 'v1'} entries with ${opts.keys} keys in ${generateSec.toFixed(1)} s`,
  );

  const path = v2 ? '/api/v2/log/entries' : '/api/v1/log/entries';
  const targets = opts.urls.map((u) => new URL(path, u));
  const agent = new Agent({
    keepAlive: true,
    maxSockets: opts.concurrency,
    maxFreeSockets: opts.concurrency,
  });
  const latencies = new Float64Array(bodies.length);
  let nLat = 0;
  let latSum = 0;
  let next = 0;
  let totalAccepted = 0;
  let measuredAccepted = 0;
  let errors = 0;
  let firstFailure: string | undefined;
  const statuses: Record<string, number> = {};

  onStart();
  const start = performance.now();
  const warmEnd = start + opts.warmupSec * 1000;
  const end = warmEnd + opts.durationSec * 1000;
  const measuredStart = warmEnd;

  const post = (i: number): Promise<{ status: number; text?: string }> =>
    new Promise((resolveP) => {
      const body = bodies[i]!;
      const target = targets[i % targets.length]!;
      const req = request(
        {
          agent,
          hostname: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status === 201) {
            res.resume();
            res.on('end', () => resolveP({ status }));
          } else {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolveP({ status, text: Buffer.concat(chunks).toString('utf8').slice(0, 300) }),
            );
          }
        },
      );
      req.on('error', (e) => resolveP({ status: 0, text: e.message }));
      req.end(body);
    });

  const loop = async () => {
    for (;;) {
      const now = performance.now();
      if (now >= end) return;
      if (next >= bodies.length) return;
      const t0 = performance.now();
      const r = await post(next++);
      const t1 = performance.now();
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (r.status === 201) {
        totalAccepted++;
        if (t0 >= measuredStart && t1 <= end) {
          measuredAccepted++;
          latencies[nLat++] = t1 - t0;
          latSum += t1 - t0;
        }
      } else {
        errors++;
        firstFailure ??= `HTTP ${r.status}: ${r.text ?? ''}`;
      }
    }
  };

  log(
    `driving ${opts.concurrency} concurrent clients` +
      (targets.length > 1 ? ` over ${targets.length} API processes` : '') +
      `: ${opts.warmupSec} s warm-up + ${opts.durationSec} s measured`,
  );
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  const cpu = process.cpuUsage(cpu0);
  const stop = performance.now();
  const exhausted = next >= bodies.length && stop < end;
  agent.destroy();

  const sorted = latencies.slice(0, nLat).sort();
  const measuredSec = Math.max(0.001, (Math.min(stop, end) - warmEnd) / 1000);
  return {
    generated: bodies.length,
    generateSec,
    measuredSec,
    measuredAccepted,
    latencyMs: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: nLat ? sorted[nLat - 1] : 0,
      mean: nLat ? latSum / nLat : 0,
    },
    totalAccepted,
    statuses,
    errors,
    firstFailure,
    exhausted,
    driverCpuSec: (cpu.user + cpu.system) / 1e6,
  };
}

/**
 * Runs the driver in its own process (so its CPU is not charged to the servers) and relays its
 * log lines; `onLoadStart` fires when the timed loop begins.
 */
export function forkDriver(opts: DriverOptions, onLoadStart: () => void): Promise<DriverResult> {
  const child = fork(__filename, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((res, rej) => {
    child.on('message', (m: { type: string; text?: string; result?: DriverResult }) => {
      if (m.type === 'log') process.stdout.write(`  driver: ${m.text}\n`);
      else if (m.type === 'start') onLoadStart();
      else if (m.type === 'result') res(m.result!);
      else rej(new Error(`driver failed: ${m.text}`));
    });
    child.once('exit', (code) => {
      if (code !== 0) rej(new Error(`driver exited with code ${code}`));
    });
    child.send(opts);
  });
}

// Forked by forkDriver: options arrive as the first IPC message, the result leaves as one.
if (require.main === module && process.send) {
  process.once('message', (opts: DriverOptions) => {
    drive(
      opts,
      (s) => process.send?.({ type: 'log', text: s }),
      () => process.send?.({ type: 'start' }),
    ).then(
      (result) => process.send?.({ type: 'result', result }, () => process.exit(0)),
      (e: unknown) =>
        process.send?.({ type: 'error', text: String((e as Error)?.stack ?? e) }, () => process.exit(1)),
    );
  });
}
