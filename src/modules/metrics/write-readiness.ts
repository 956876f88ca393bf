import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { VellumConfig } from '../config/config';
import type { VellumDatabase } from '../storage/database';
import type { HealthCheckResult } from './health.service';

/** One cheap check of whether a commit could succeed now: `run` gives undefined if so, else why not. */
export interface WriteProbe {
  /** Names the probe in a failure ("the database", "free space"). */
  readonly name: string;
  run(): Promise<string | undefined>;
}

/** `p`, or the reason it took longer than `ms` (a database that stopped answering hangs, not fails). */
async function bounded(
  p: Promise<string | undefined>,
  ms: number,
  what: string,
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((r) => {
    timer = setTimeout(() => r(`${what} did not answer within ${ms} ms`), ms);
  });
  try {
    return await Promise.race([p.catch((e: unknown) => `${what}: ${(e as Error).message}`), late]);
  } finally {
    clearTimeout(timer);
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * SQLite: free space on the file system holding the database (statfs; writes nothing). Below
 * `minFree` a batch may fail half-way through its WAL frames, so the process says so before it
 * does, and after a failure for want of space it stays unready until space is back.
 */
export function diskSpaceProbe(databasePath: string, minFree: number): WriteProbe {
  const dir = dirname(databasePath);
  return {
    name: 'free space',
    async run() {
      const s = await statfs(dir);
      const free = Number(s.bavail) * Number(s.bsize);
      return free < minFree ? `only ${mib(free)} free for the database (below ${mib(minFree)})` : undefined;
    },
  };
}

/** The database answers a trivial read (PostgreSQL gone, its connections cut, the pool stuck). */
export function databaseProbe(db: VellumDatabase): WriteProbe {
  return {
    name: 'the database',
    async run() {
      await db.read('SELECT 1 AS one');
      return undefined;
    },
  };
}

/** The probes a signing process runs for its database: reachability and, on SQLite, free space. */
export function storageProbes(config: VellumConfig, db: VellumDatabase): WriteProbe[] {
  const probes = [databaseProbe(db)];
  if (config.database.type === 'sqlite' && config.readyMinFreeBytes > 0)
    probes.push(diskSpaceProbe(config.database.path, config.readyMinFreeBytes));
  return probes;
}

export interface WriteReadinessOptions {
  readonly probes: readonly WriteProbe[];
  /** How often the probes run. /ready reads the last outcome and never waits on them. */
  readonly intervalMs: number;
  /** Longest a probe may take before it counts as failed. */
  readonly timeoutMs: number;
  readonly now?: () => number;
}

/**
 * Whether this process's write path can commit, for /ready: the outcome of the last batch
 * commit plus the periodic probes. A failed commit makes it unready at once; it recovers on the
 * next commit that succeeds or on the first full probe round that started after the failure and
 * passed (so an idle process whose clients went elsewhere still comes back by itself). The
 * probes write nothing: a full disk is not filled further by being asked about.
 */
export class WriteReadiness {
  private commitFailure: { reason: string; at: number } | undefined;
  private lastCommitAt: number | undefined;
  private probe: { reason: string | undefined; startedAt: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: WriteReadinessOptions) {
    this.now = options.now ?? Date.now;
  }

  committed(): void {
    this.commitFailure = undefined;
    this.lastCommitAt = this.now();
  }

  failed(reason: string): void {
    this.commitFailure = { reason, at: this.now() };
  }

  start(): void {
    if (this.timer !== undefined) return;
    void this.runProbes();
    this.timer = setInterval(() => void this.runProbes(), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One probe round now (also what the timer runs); overlapping calls share one round. */
  runProbes(): Promise<void> {
    this.running ??= (async () => {
      const startedAt = this.now();
      const reasons = await Promise.all(
        this.options.probes.map((p) => bounded(p.run(), this.options.timeoutMs, p.name)),
      );
      const failing = reasons.filter((r): r is string => r !== undefined);
      this.probe = { reason: failing.length > 0 ? failing.join('; ') : undefined, startedAt };
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  check(): HealthCheckResult {
    const reasons: string[] = [];
    if (this.probe?.reason !== undefined) reasons.push(this.probe.reason);
    const f = this.commitFailure;
    if (f !== undefined && (this.probe === undefined || this.probe.startedAt <= f.at))
      reasons.push(`last commit failed: ${f.reason}`);
    if (reasons.length > 0) return { ok: false, detail: reasons.join('; ') };
    return {
      ok: true,
      detail:
        this.lastCommitAt === undefined
          ? 'writable'
          : `writable, last commit ${Math.round((this.now() - this.lastCommitAt) / 1000)} s ago`,
    };
  }
}
