import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { makeHashedrekords, makeV2HashedRekords } from './bench-entries';
import { type LatencySummary, dueBy, dueTime, offeredCount, summarize } from './latency';

/**
 * Load generator of `vellum bench`, run as its own process (forked by the benches) so its CPU is
 * not charged to the server. Entries are generated and signed before the clock starts; the timed
 * phases only write prepared bytes and count answers. A run is a list of phases on one pool of
 * entries: closed loop (N clients, each sends when its last answer came) or open loop (a fixed
 * offered rate, latency from each request's due time; see latency.ts).
 */

/** The command-line options of the load every HTTP bench drives (see DriverOptions). */
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

/**
 * Sockets an open-loop phase may open per server: below the server's default MAX_CONNECTIONS
 * (900), so an overloaded step queues in the driver (still timed from the due time) instead of
 * having connections refused.
 */
export const OPEN_LOOP_SOCKETS = 800;
/** A request unanswered for this long counts as an error (status 0), so a phase always ends. */
const REQUEST_TIMEOUT_MS = 60_000;

export type LoadPhase =
  | {
      readonly kind: 'closed';
      readonly concurrency: number;
      readonly warmupSec: number;
      readonly durationSec: number;
    }
  | {
      readonly kind: 'open';
      /** Offered requests per second. */
      readonly rate: number;
      /** Sent at the same rate before the measured window, not measured. */
      readonly settleSec: number;
      readonly durationSec: number;
    };

export interface DriverOptions {
  /** API base URLs; entry i goes to urls[i % urls.length] (one for the embedded bench). */
  readonly urls: readonly string[];
  readonly keys: number;
  readonly entries: number;
  /** Which write API to drive: Rekor v1 hashedrekord 0.0.1 (default) or v2 hashedRekordRequestV002. */
  readonly api?: 1 | 2;
  /** One closed-loop phase of `concurrency` clients, unless `phases` is given. */
  readonly durationSec?: number;
  readonly warmupSec?: number;
  readonly concurrency?: number;
  readonly phases?: readonly LoadPhase[];
}

export interface PhaseResult {
  readonly phase: LoadPhase;
  /** The timed window (after warm-up or settling). */
  readonly measuredSec: number;
  /** 201 answers that arrived inside the timed window. */
  readonly measuredAccepted: number;
  /** Closed loop: from send to answer. Open loop: from each request's due time to its answer. */
  readonly latencyMs: LatencySummary;
  /** Open loop: how late the driver sent requests after their due time (its own lag). */
  readonly sendLagMs?: LatencySummary;
  /** 201 answers of the whole phase, warm-up included. */
  readonly accepted: number;
  readonly statuses: Record<string, number>;
  readonly errors: number;
  readonly firstFailure?: string;
  /** The pre-generated entries ran out before the phase ended. */
  readonly exhausted: boolean;
  readonly driverCpuSec: number;
}

export interface DriverRun {
  readonly generated: number;
  readonly generateSec: number;
  readonly phases: readonly PhaseResult[];
  /** Whole run: what the tree size must equal. */
  readonly totalAccepted: number;
}

/** The single closed-loop phase's figures, as the older benches read them. */
export interface DriverResult extends PhaseResult {
  readonly generated: number;
  readonly generateSec: number;
  readonly totalAccepted: number;
}

interface Answer {
  readonly status: number;
  readonly text?: string;
}

/** Counters one phase fills; `settle` turns them into its PhaseResult. */
class PhaseTally {
  accepted = 0;
  measuredAccepted = 0;
  errors = 0;
  firstFailure: string | undefined;
  readonly statuses: Record<string, number> = {};
  readonly latencies: Float64Array;
  nLat = 0;
  private readonly cpu0 = process.cpuUsage();

  constructor(capacity: number) {
    this.latencies = new Float64Array(Math.max(1, capacity));
  }

  answer(r: Answer): boolean {
    this.statuses[r.status] = (this.statuses[r.status] ?? 0) + 1;
    if (r.status === 201) {
      this.accepted++;
      return true;
    }
    this.errors++;
    this.firstFailure ??= `HTTP ${r.status}: ${r.text ?? ''}`;
    return false;
  }

  latency(ms: number): void {
    if (this.nLat < this.latencies.length) this.latencies[this.nLat++] = ms;
  }

  settle(phase: LoadPhase, measuredSec: number, exhausted: boolean, sendLagMs?: LatencySummary): PhaseResult {
    const cpu = process.cpuUsage(this.cpu0);
    return {
      phase,
      measuredSec,
      measuredAccepted: this.measuredAccepted,
      latencyMs: summarize(this.latencies, this.nLat),
      ...(sendLagMs ? { sendLagMs } : {}),
      accepted: this.accepted,
      statuses: this.statuses,
      errors: this.errors,
      firstFailure: this.firstFailure,
      exhausted,
      driverCpuSec: (cpu.user + cpu.system) / 1e6,
    };
  }
}

/** Sends prepared bodies; `next` is shared by the phases so no entry is sent twice. */
class Sender {
  next = 0;
  private readonly targets: URL[];

  constructor(
    private readonly bodies: Buffer[],
    urls: readonly string[],
    path: string,
  ) {
    this.targets = urls.map((u) => new URL(path, u));
  }

  get exhausted(): boolean {
    return this.next >= this.bodies.length;
  }

  post(agent: Agent, i: number): Promise<Answer> {
    return new Promise((resolveP) => {
      const body = this.bodies[i]!;
      const target = this.targets[i % this.targets.length]!;
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
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolveP({ status, text: Buffer.concat(chunks).toString('utf8').slice(0, 300) }),
          );
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () =>
        req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)),
      );
      req.on('error', (e) => resolveP({ status: 0, text: e.message }));
      req.end(body);
    });
  }
}

async function closedPhase(s: Sender, p: Extract<LoadPhase, { kind: 'closed' }>, room: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: p.concurrency, maxFreeSockets: p.concurrency });
  const tally = new PhaseTally(room);
  const start = performance.now();
  const measuredStart = start + p.warmupSec * 1000;
  const end = measuredStart + p.durationSec * 1000;
  const client = async () => {
    while (performance.now() < end && !s.exhausted) {
      const t0 = performance.now();
      const r = await s.post(agent, s.next++);
      const t1 = performance.now();
      if (tally.answer(r) && t0 >= measuredStart && t1 <= end) {
        tally.measuredAccepted++;
        tally.latency(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: p.concurrency }, client));
  const stop = performance.now();
  agent.destroy();
  const measuredSec = Math.max(0.001, (Math.min(stop, end) - measuredStart) / 1000);
  return tally.settle(p, measuredSec, s.exhausted && stop < end);
}

async function openPhase(s: Sender, p: Extract<LoadPhase, { kind: 'open' }>) {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: OPEN_LOOP_SOCKETS,
    maxFreeSockets: OPEN_LOOP_SOCKETS,
  });
  const total = offeredCount(p.rate, p.settleSec + p.durationSec);
  const tally = new PhaseTally(total);
  const lags = new Float64Array(Math.max(1, total));
  const start = performance.now() + 5;
  const measuredStart = start + p.settleSec * 1000;
  const end = measuredStart + p.durationSec * 1000;
  const inFlight: Promise<void>[] = [];
  let sent = 0;
  let exhausted = false;
  const send = (k: number, due: number, now: number) => {
    lags[k] = now - due;
    const i = s.next++;
    inFlight.push(
      s.post(agent, i).then((r) => {
        const t1 = performance.now();
        if (!tally.answer(r)) return;
        if (t1 >= measuredStart && t1 < end) tally.measuredAccepted++;
        if (due >= measuredStart && due < end) tally.latency(t1 - due);
      }),
    );
  };
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      const due = dueBy(start, p.rate, now, total);
      while (sent < due) {
        if (s.exhausted) {
          exhausted = true;
          return done();
        }
        send(sent, dueTime(start, p.rate, sent), now);
        sent++;
      }
      if (sent >= total) return done();
      setTimeout(tick, Math.max(0, dueTime(start, p.rate, sent) - performance.now()));
    };
    tick();
  });
  await Promise.all(inFlight);
  agent.destroy();
  return tally.settle(p, p.durationSec, exhausted, summarize(lags, sent));
}

/** Runs `phases` in order on one pool of pre-generated entries. */
export async function drive(
  opts: DriverOptions,
  log: (s: string) => void,
  hooks: { onPhaseStart?: (i: number) => void; onPhaseEnd?: (i: number) => void } = {},
): Promise<DriverRun> {
  const phases = driverPhases(opts);
  const g0 = process.hrtime.bigint();
  const v2 = opts.api === 2;
  const bodies = (v2 ? makeV2HashedRekords : makeHashedrekords)(opts.entries, opts.keys);
  const generateSec = Number(process.hrtime.bigint() - g0) / 1e9;
  log(
    `generated ${bodies.length} signed ${v2 ? 'v2' : 'v1'} entries with ${opts.keys} keys in ${generateSec.toFixed(1)} s`,
  );
  const sender = new Sender(bodies, opts.urls, v2 ? '/api/v2/log/entries' : '/api/v1/log/entries');
  const over = opts.urls.length > 1 ? ` over ${opts.urls.length} API processes` : '';
  const results: PhaseResult[] = [];
  for (const [i, p] of phases.entries()) {
    log(
      p.kind === 'closed'
        ? `closed loop, ${p.concurrency} clients${over}: ${p.warmupSec} s warm-up + ${p.durationSec} s measured`
        : `open loop, ${p.rate} entries/s offered${over}: ${p.settleSec} s settling + ${p.durationSec} s measured`,
    );
    hooks.onPhaseStart?.(i);
    results.push(
      p.kind === 'closed' ? await closedPhase(sender, p, bodies.length) : await openPhase(sender, p),
    );
    hooks.onPhaseEnd?.(i);
  }
  return {
    generated: bodies.length,
    generateSec,
    phases: results,
    totalAccepted: results.reduce((a, r) => a + r.accepted, 0),
  };
}

function driverPhases(o: DriverOptions): readonly LoadPhase[] {
  if (o.phases !== undefined) return o.phases;
  if (o.concurrency === undefined || o.durationSec === undefined)
    throw new Error('driver: give phases, or concurrency and durationSec');
  return [
    { kind: 'closed', concurrency: o.concurrency, warmupSec: o.warmupSec ?? 0, durationSec: o.durationSec },
  ];
}

/**
 * Runs the driver in its own process and relays its log lines; the hooks fire in this process
 * when each phase starts and ends, so the caller can sample the server's CPU around it.
 */
export function forkPhases(
  opts: DriverOptions,
  hooks: { onPhaseStart?: (i: number) => void; onPhaseEnd?: (i: number) => void } = {},
): Promise<DriverRun> {
  const child = fork(__filename, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((res, rej) => {
    child.on('message', (m: { type: string; text?: string; i?: number; result?: DriverRun }) => {
      if (m.type === 'log') process.stdout.write(`  driver: ${m.text}\n`);
      else if (m.type === 'phase-start') hooks.onPhaseStart?.(m.i!);
      else if (m.type === 'phase-end') hooks.onPhaseEnd?.(m.i!);
      else if (m.type === 'result') res(m.result!);
      else rej(new Error(`driver failed: ${m.text}`));
    });
    child.once('exit', (code) => {
      if (code !== 0) rej(new Error(`driver exited with code ${code}`));
    });
    child.send(opts);
  });
}

/** One closed-loop phase in a child process; `onLoadStart` fires when it begins. */
export async function forkDriver(opts: DriverOptions, onLoadStart: () => void): Promise<DriverResult> {
  const run = await forkPhases(opts, { onPhaseStart: onLoadStart });
  return {
    ...run.phases[0]!,
    generated: run.generated,
    generateSec: run.generateSec,
    totalAccepted: run.totalAccepted,
  };
}

// Forked by forkPhases: options arrive as the first IPC message, the result leaves as one.
if (require.main === module && process.send) {
  process.once('message', (opts: DriverOptions) => {
    drive(opts, (s) => process.send?.({ type: 'log', text: s }), {
      onPhaseStart: (i) => process.send?.({ type: 'phase-start', i }),
      onPhaseEnd: (i) => process.send?.({ type: 'phase-end', i }),
    }).then(
      (result) => process.send?.({ type: 'result', result }, () => process.exit(0)),
      (e: unknown) =>
        process.send?.({ type: 'error', text: String((e as Error)?.stack ?? e) }, () => process.exit(1)),
    );
  });
}
