import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type LogClock, RepeatLimitedLog } from '../../src/modules/logging/repeat-limited-log';
import { WriteReadiness } from '../../src/modules/metrics/write-readiness';

/** A manual clock: timers fire only when the test advances time past them. */
class ManualClock implements LogClock {
  private t = 0;
  private timers: Array<{ at: number; fn: () => void }> = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): object {
    this.timers.push({ at: this.t + ms, fn });
    return {};
  }
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (next === undefined || next.at > until) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = until;
  }
}

function recorder(): {
  lines: Array<{ level: string; text: string }>;
  warn(m: string): void;
  error(m: string): void;
} {
  const lines: Array<{ level: string; text: string }> = [];
  return {
    lines,
    warn: (m) => lines.push({ level: 'warn', text: m }),
    error: (m) => lines.push({ level: 'error', text: m }),
  };
}

test('repeat-limited log: one line, then one count per window, per distinct message', () => {
  const clock = new ManualClock();
  const out = recorder();
  const log = new RepeatLimitedLog(out, 10_000, clock);
  for (let i = 0; i < 313; i++) {
    log.warn('batch not committed: disk full');
    clock.advance(10);
  }
  log.error('cannot reload');
  assert.deepEqual(
    out.lines.map((l) => l.text),
    ['batch not committed: disk full', 'cannot reload'],
  );
  clock.advance(10_000);
  assert.deepEqual(out.lines.slice(2), [
    { level: 'warn', text: 'batch not committed: disk full (repeated 312 times in the last 10 s)' },
  ]);
  // A new window opens with the next occurrence, which is logged at once again.
  log.warn('batch not committed: disk full');
  assert.equal(out.lines.length, 4);
  clock.advance(10_000);
  assert.equal(out.lines.length, 4, 'nothing held back, so no summary line');
});

test('repeat-limited log: every occurrence is accounted for, and a message is never logged twice in a window', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 4000 })), {
        maxLength: 300,
      }),
      (events) => {
        const clock = new ManualClock();
        const out = recorder();
        const log = new RepeatLimitedLog(out, 10_000, clock);
        const firstLinesAt = new Map<string, number[]>();
        const firstCount = () => out.lines.length;
        for (const [m, gap] of events) {
          clock.advance(gap);
          const before = firstCount();
          log.warn(m);
          const logged = out.lines.slice(before).filter((l) => l.text === m);
          if (logged.length > 0) firstLinesAt.set(m, [...(firstLinesAt.get(m) ?? []), clock.now()]);
        }
        clock.advance(20_000);
        let accounted = 0;
        for (const l of out.lines) {
          const r = / \(repeated (once more|([0-9]+) times) in the last [0-9]+ s\)$/.exec(l.text);
          accounted += r === null ? 1 : r[1] === 'once more' ? 1 : Number(r[2]);
        }
        assert.equal(accounted, events.length);
        for (const times of firstLinesAt.values())
          for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 10_000);
      },
    ),
  );
});

test('repeat-limited log: distinct messages beyond the table size share one counted overflow window', () => {
  const clock = new ManualClock();
  const out = recorder();
  const log = new RepeatLimitedLog(out, 10_000, clock, 4);
  for (let i = 0; i < 1000; i++) log.warn(`m${i}`);
  for (let i = 0; i < 10; i++) log.warn(`m${i}`);
  // m0..m3 hold windows; m4 is logged and opens the overflow window; everything else is counted.
  assert.deepEqual(
    out.lines.map((l) => l.text),
    ['m0', 'm1', 'm2', 'm3', 'm4'],
  );
  clock.advance(10_000);
  assert.equal(out.lines.filter((l) => l.text.includes('repeated once more')).length, 4);
  // 995 distinct after m4, plus m4..m9 again (6): 1001 held back in the overflow window.
  assert.ok(
    out.lines.some((l) => l.text === '1001 more distinct messages held back in the last 10 s'),
    JSON.stringify(out.lines.slice(5)),
  );
  log.warn('m999');
  assert.equal(out.lines.at(-1)!.text, 'm999', 'after the windows close, a message is logged again');
});

test('write readiness: a failed commit is unready until a commit or a later passing probe round', async () => {
  let t = 1000;
  let probeAnswer: string | undefined;
  const r = new WriteReadiness({
    probes: [{ name: 'disk', run: async () => probeAnswer }],
    intervalMs: 60_000,
    timeoutMs: 1000,
    now: () => t,
  });
  assert.equal(r.check().ok, true);
  await r.runProbes();
  r.failed('database or disk is full');
  assert.deepEqual(r.check(), { ok: false, detail: 'last commit failed: database or disk is full' });
  probeAnswer = 'only 0.0 MiB free';
  t += 1;
  await r.runProbes();
  assert.deepEqual(r.check(), { ok: false, detail: 'only 0.0 MiB free' }, 'the probe says why now');
  probeAnswer = undefined;
  t += 1;
  await r.runProbes();
  assert.equal(r.check().ok, true, 'the space came back: ready without a write');
  r.failed('again');
  assert.equal(r.check().ok, false);
  r.committed();
  assert.equal(r.check().ok, true, 'a commit clears the failure at once');

  // A probe that hangs counts as failed after its timeout.
  const hung = new WriteReadiness({
    probes: [{ name: 'the database', run: () => new Promise<undefined>(() => undefined) }],
    intervalMs: 60_000,
    timeoutMs: 50,
  });
  await hung.runProbes();
  assert.deepEqual(hung.check(), { ok: false, detail: 'the database did not answer within 50 ms' });
});
