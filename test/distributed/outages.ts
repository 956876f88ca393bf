/**
 * Outage tools: a private redis-server for Redis outages and a TCP proxy in front of PostgreSQL
 * for database outages (the shared servers are never stopped: other tests use them concurrently).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../support/server';
import { tcpReachable } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';
import { until } from '../support/wait';

/** A private redis-server (no persistence) that a test may kill and restart on the same port. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    this.child = child;
    await until(`redis-server on ${this.port}`, () => tcpReachable(this.port), 10_000);
  }

  /** kill -9: every queued job and stream record is lost (no persistence). */
  async kill(): Promise<void> {
    const c = this.child;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await gone;
  }
}

/** A TCP proxy in front of the shared PostgreSQL (see TcpProxy). */
export class PgProxy extends TcpProxy {
  static async start(): Promise<PgProxy> {
    const p = new PgProxy(await freePort(), 5432);
    await p.restore();
    return p;
  }

  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }
}
