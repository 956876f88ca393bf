import type { Logger } from '@nestjs/common';
import IORedis, { type RedisOptions } from 'ioredis';
import { rateLimitedLog } from '../logging/repeat-limited-log';

/** Reconnect quickly at first, then every 2 s, forever: Redis coming back must heal by itself. */
function retryStrategy(times: number): number {
  return Math.min(100 * times, 2000);
}

/**
 * Options for a connection that issues commands on behalf of requests. enableOfflineQueue=false
 * and one retry: while Redis is unreachable a command fails at once (the client gets 503) instead
 * of queueing in memory until a timeout.
 */
export function commandOptions(): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy,
  };
}

/** Options for BullMQ workers and stream readers: blocking commands, retried across reconnects. */
export function blockingOptions(): RedisOptions {
  return {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    retryStrategy,
  };
}

export function connect(url: string, options: RedisOptions, name: string, logger: Logger): IORedis {
  const client = new IORedis(url, { ...options, connectionName: name });
  const log = rateLimitedLog(logger);
  client.on('error', (e: unknown) => log(`Redis (${name})`, e));
  return client;
}

interface Corkable {
  cork(): void;
  uncork(): void;
  readonly destroyed?: boolean;
}

/**
 * Coalesces the Redis writes a burst of work causes into one syscall. Settling a batch's
 * BullMQ jobs makes the worker send one command per job from the promise continuations that
 * follow; with the worker's socket corked until the next macrotask they leave as one writev
 * instead of hundreds of writes (a write syscall is far from free in a small VM).
 */
export class WriteCoalescer {
  /** One socket per BullMQ worker of the consumer (it runs several: see BullConsumer). */
  private sockets: readonly Corkable[] = [];

  attach(sockets: readonly (Corkable | undefined)[]): void {
    this.sockets = sockets.filter((s): s is Corkable => s !== undefined);
  }

  run<T>(fn: () => T): T {
    const live = this.sockets.filter((s) => s.destroyed !== true);
    if (live.length === 0) return fn();
    for (const s of live) s.cork();
    try {
      return fn();
    } finally {
      // After every microtask of this turn (the continuations that write) has run.
      setImmediate(() => {
        for (const s of live) s.uncork();
      });
    }
  }
}
