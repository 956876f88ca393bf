/**
 * The real Redis (6379) and PostgreSQL (5432) that integration tests run against. A test that
 * needs one fails under CI=true when it is missing and is skipped otherwise.
 */
import { spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import type { TestContext } from 'node:test';

export function tcpReachable(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.setTimeout(2000);
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
    s.once('timeout', () => {
      s.destroy();
      res(false);
    });
  });
}

function binaryRuns(cmd: string, args: string[]): Promise<boolean> {
  return new Promise<boolean>((res) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.once('error', () => res(false));
    c.once('exit', (code) => res(code === 0));
  });
}

export interface Needs {
  readonly redis?: boolean;
  readonly postgres?: boolean;
  /** A `redis-server` binary this test may start itself (outage tests). */
  readonly redisServerBinary?: boolean;
}

/** True when everything in `needs` is there; otherwise skips `t` (or throws under CI=true). */
export async function needServices(t: TestContext, needs: Needs): Promise<boolean> {
  const missing: string[] = [];
  if (needs.redis && !(await tcpReachable(6379))) missing.push('Redis on 127.0.0.1:6379');
  if (needs.postgres && !(await tcpReachable(5432))) missing.push('PostgreSQL on 127.0.0.1:5432');
  if (needs.redisServerBinary && !(await binaryRuns('redis-server', ['--version'])))
    missing.push('the redis-server binary');
  if (missing.length === 0) return true;
  const why = `${missing.join(' and ')} unreachable`;
  if (process.env.CI === 'true') throw new Error(`${why} (CI=true: these tests must run)`);
  t.skip(why);
  return false;
}
