import { readFileSync, readdirSync } from 'node:fs';

/**
 * What the benches read of processes on Linux (/proc): CPU seconds of a process, of each of its
 * threads and of the whole machine, and memory. Each returns undefined (or nothing) elsewhere,
 * and the reports print "-" for it.
 */

const CLK_TCK = 100;

/** utime + stime of a process (or, with `path`, of one of its threads), in seconds. */
export function processCpuSec(pid: number | undefined, path = `/proc/${pid}/stat`): number | undefined {
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

/** CPU seconds per thread of a process, keyed by thread id. */
export function threadCpuSec(pid: number | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (pid === undefined) return out;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const v = processCpuSec(Number(tid), `/proc/${pid}/task/${tid}/stat`);
      if (v !== undefined) out.set(Number(tid), v);
    }
  } catch {
    // the process is gone
  }
  return out;
}

/** Busy and total CPU seconds of the whole machine (all cores) since boot. */
export function machineCpuSec(): { busy: number; all: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + (f[4] ?? 0);
    const all = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: (all - idle) / CLK_TCK, all: all / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** Resident set size now and its peak (VmHWM), in MiB. */
export function memoryMiB(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1]);
    const rss = kb('VmRSS');
    const peak = kb('VmHWM');
    return Number.isFinite(rss) && Number.isFinite(peak) ? { rss: rss / 1024, peak: peak / 1024 } : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds of every process named `comm` (e.g. PostgreSQL's backends). */
export function cpuSecOfCommand(comm: string): number {
  let t = 0;
  try {
    for (const d of readdirSync('/proc')) {
      if (!/^[0-9]+$/.test(d)) continue;
      try {
        if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) t += processCpuSec(Number(d)) ?? 0;
      } catch {
        // gone
      }
    }
  } catch {
    // not Linux
  }
  return t;
}
