import type { LoadPhase, PhaseResult } from './http-bench-driver';
import type { LatencySummary } from './latency';

/**
 * The lines `vellum bench` prints for each phase, and the issue's targets checked against them.
 * Pure formatting: the figures come from the driver and from /proc (proc-stats.ts).
 */

/** CPU the server and the machine spent during one phase. */
export interface PhaseCpu {
  readonly wallSec: number;
  readonly serverSec: number;
  readonly mainThreadSec: number;
  /** Other threads of the server, busiest first (verification workers, signing thread, V8). */
  readonly otherThreadSecs: readonly number[];
  readonly machineBusySec: number;
  /** The server's resident set at the end of the phase (MiB), when /proc tells. */
  readonly rssMiB?: number;
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');

function statuses(r: PhaseResult): string {
  const s = Object.entries(r.statuses)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  return `${s}${r.firstFailure ? `  (first failure: ${r.firstFailure})` : ''}`;
}

function latency(l: LatencySummary): string {
  return `p50 ${f1(l.p50)}  p95 ${f1(l.p95)}  p99 ${f1(l.p99)}  p99.9 ${f1(l.p999)}  max ${f1(l.max)}`;
}

export function achievedRate(r: PhaseResult): number {
  return r.measuredAccepted / r.measuredSec;
}

function cpuLines(r: PhaseResult, cpu: PhaseCpu, cores: number): string[] {
  const perEntry = (sec: number) => f0((sec / Math.max(1, r.accepted)) * 1e6);
  const rest = cpu.otherThreadSecs.slice(4).reduce((a, b) => a + b, 0);
  return [
    `  CPU cores used   server ${f2(cpu.serverSec / cpu.wallSec)}, driver ${f2(r.driverCpuSec / cpu.wallSec)}, ` +
      `machine ${f2(cpu.machineBusySec / cpu.wallSec)} of ${cores}`,
    `  server CPU/entry ${perEntry(cpu.serverSec)} µs: main thread ${perEntry(cpu.mainThreadSec)}, busiest other threads ` +
      `${cpu.otherThreadSecs.slice(0, 4).map(perEntry).join(' / ')}, rest ${perEntry(rest)}`,
    ...(cpu.rssMiB === undefined ? [] : [`  server RSS       ${f0(cpu.rssMiB)} MiB at the end of the phase`]),
  ];
}

export function phaseReport(r: PhaseResult, cpu: PhaseCpu, cores: number): string[] {
  const p = r.phase;
  const head =
    p.kind === 'closed'
      ? `closed loop ${p.concurrency} clients: ${f0(achievedRate(r))} entries/s (${r.measuredAccepted} in ${f1(r.measuredSec)} s)`
      : `open loop ${p.rate}/s offered: achieved ${f0(achievedRate(r))} entries/s (${r.measuredAccepted} answered 201 in the ${f1(r.measuredSec)} s window)`;
  const lines = [
    head,
    `  latency ms       ${latency(r.latencyMs)}${p.kind === 'open' ? '  (from the intended send time)' : ''}`,
  ];
  if (r.sendLagMs)
    lines.push(
      `  driver send lag  p50 ${f1(r.sendLagMs.p50)}  p99 ${f1(r.sendLagMs.p99)}  max ${f1(r.sendLagMs.max)} ms`,
    );
  lines.push(`  HTTP statuses    ${statuses(r)}`, ...cpuLines(r, cpu, cores));
  if (r.exhausted)
    lines.push('  note: the pre-generated entries ran out before the phase ended; raise --entries');
  return lines;
}

/** The write-path targets of the issue, for the phases this run had. */
export function targetLines(results: readonly PhaseResult[]): string[] {
  const closed = (n: number) => results.find((r) => r.phase.kind === 'closed' && r.phase.concurrency === n);
  const open = (n: number) => results.find((r) => r.phase.kind === 'open' && r.phase.rate === n);
  const out: string[] = [];
  const say = (what: string, ok: boolean, got: string) =>
    out.push(`target  ${what}: ${ok ? 'met' : 'NOT met'} (${got})`);
  const c16 = closed(16);
  if (c16) say('16 clients p50 <= 10 ms', c16.latencyMs.p50 <= 10, `p50 ${f1(c16.latencyMs.p50)} ms`);
  for (const [n, rate, p99] of [
    [64, 4000, 100],
    [256, 5000, 200],
  ] as const) {
    const c = closed(n);
    if (c)
      say(
        `${n} clients >= ${rate}/s with p99 <= ${p99} ms`,
        achievedRate(c) >= rate && c.latencyMs.p99 <= p99,
        `${f0(achievedRate(c))}/s, p99 ${f1(c.latencyMs.p99)} ms`,
      );
  }
  const o = open(2000);
  if (o)
    say(
      'open loop 2,000/s: achieved >= 1,990/s, p99 <= 50 ms, no errors',
      achievedRate(o) >= 1990 && o.latencyMs.p99 <= 50 && o.errors === 0,
      `${f0(achievedRate(o))}/s, p99 ${f1(o.latencyMs.p99)} ms, ${o.errors} errors`,
    );
  return out;
}

/** A phase's label in the summary table. */
export function phaseLabel(p: LoadPhase): string {
  return p.kind === 'closed' ? `closed ${p.concurrency}` : `open ${p.rate}/s`;
}
