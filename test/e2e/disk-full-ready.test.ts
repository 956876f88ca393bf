import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeHashedrekords } from '../../src/bench/bench-entries';
import { http, startTestServer } from '../support/server';
import { verifyLogEntry } from '../support/verifier';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Writes zeros until the file system says ENOSPC. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  return written;
}

/**
 * DATA_DIR on an 8 MiB tmpfs that the test fills: every submission fails to commit (503), /ready
 * says so and why, the write path logs the repeated failure a handful of times instead of once
 * per batch, and when space returns /ready recovers by itself (no write needed) and writes work.
 */
/** Error records of the HTTP layer in Nest's text log (colours stripped; a stack spans lines). */
function httpErrorRecords(output: string): number {
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
  return plain.split('\n').filter((l) => /\bERROR\b.*\[http\]/.test(l)).length;
}

test('disk full: /ready 503 with the reason, a small log, then 200 and writes once space returns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vellum-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs for DATA_DIR (needs root): ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const server = await startTestServer({
    dataDir: dir,
    env: { READY_MIN_FREE_MB: '1', VERIFY_WORKERS: '1' },
  }).catch(async (e: unknown) => {
    execFileSync('umount', [dir]);
    throw e;
  });
  try {
    const bodies = makeHashedrekords(200, 4);
    let next = 0;
    // Bodies 0-2 before the disk fills, 3-198 (round and round) while it is full, 199 after.
    const submit = (i = next < 3 ? next++ : 3 + (next++ % 196)) =>
      http(`${server.url}/api/v1/log/entries`, { body: bodies[i]!.toString() });
    const before: any[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await submit();
      assert.equal(r.status, 201, r.text);
      before.push(r.json);
    }
    assert.equal((await http(`${server.url}/ready`)).status, 200);

    const filler = join(dir, 'filler');
    const filled = fill(filler);
    t.diagnostic(`filler: ${(filled / 1024 / 1024).toFixed(1)} MiB`);
    const linesAtFill = server.output().split('\n').length;
    const httpErrorsAtFill = httpErrorRecords(server.output());
    const sequencerLinesAtFill = server
      .output()
      .split('\n')
      .filter((l) => l.includes('[Sequencer]')).length;

    // A hostile (or merely retrying) client hammers the full log for 3 s.
    const statuses = new Map<number, number>();
    const until = Date.now() + 3000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < until) {
          const r = await submit();
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 503) assert.ok(r.headers.get('retry-after') !== null, '503 carries Retry-After');
        }
      }),
    );
    t.diagnostic(`statuses while full: ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.deepEqual([...statuses.keys()], [503], 'every submission on a full disk is refused with 503');
    const refused = statuses.get(503)!;
    assert.ok(refused >= 20, `the client kept submitting (${refused})`);

    const ready = await http(`${server.url}/ready`);
    assert.equal(ready.status, 503, ready.text);
    assert.match(ready.json.message, /not ready: writes: .*(free for the database|disk is full)/);
    assert.match(ready.json.checks.writes, /only [0-9.]+ MiB free for the database \(below 1\.0 MiB\)/);

    const out = server.output().split('\n');
    const sequencerLines = out.filter((l) => l.includes('[Sequencer]')).length - sequencerLinesAtFill;
    t.diagnostic(
      `log while full: ${out.length - linesAtFill} lines in all, ${sequencerLines} from the write path, for ${refused} refused submissions`,
    );
    assert.ok(sequencerLines <= 4, `the write path logged ${sequencerLines} lines for one repeated failure`);
    // Stack traces span lines; count the log records (the [http] error lines) instead.
    const httpErrors = httpErrorRecords(server.output()) - httpErrorsAtFill;
    assert.ok(
      httpErrors <= 4,
      `the HTTP layer logged ${httpErrors} error records for ${refused} identical refusals`,
    );

    unlinkSync(filler);
    const t0 = Date.now();
    for (;;) {
      const r = await http(`${server.url}/ready`);
      if (r.status === 200) {
        assert.match(r.json.checks.writes, /^writable/);
        break;
      }
      assert.ok(Date.now() - t0 < 10_000, `still not ready 10 s after space returned: ${r.text}`);
      await sleep(100);
    }
    t.diagnostic(`ready again ${Date.now() - t0} ms after the filler was deleted, with no write`);
    const after = await submit(199);
    assert.equal(after.status, 201, after.text);
    const v = verifyLogEntry(after.json, server.ctx);
    assert.equal(v.logIndex, 3, 'nothing of the refused submissions was logged');
    for (const [i, doc] of before.entries()) {
      const uuid = Object.keys(doc)[0]!;
      const r = await http(`${server.url}/api/v1/log/entries/${uuid}`);
      assert.equal(r.status, 200);
      assert.equal(verifyLogEntry(r.json, server.ctx).logIndex, i);
    }
  } finally {
    await server.stop();
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});
