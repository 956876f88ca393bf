import { Logger } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, type Registry } from 'prom-client';
import type { HttpLimits } from '../config/config';

/**
 * How often Node's HTTP server looks for connections past their headers or request timeout. Its
 * default (30 s) would let a socket that timed out hold its descriptor up to 30 s longer.
 */
export const CONNECTION_CHECK_INTERVAL_MS = 1_000;

/**
 * After an answer sent before the request body was all in (413, 429, 415, 404), the rest of the
 * body is read and thrown away, at most this many bytes for at most DRAIN_MAX_MS, before the
 * connection closes. Closing with unread bytes makes the kernel reset the connection, and a client
 * still writing (Node's fetch) then fails with EPIPE or ECONNRESET instead of reading the answer.
 * The bounds keep a client from holding the connection open by sending forever.
 */
export const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
export const DRAIN_MAX_MS = 5_000;

/** A repeated connection problem is logged at most once per this interval, with its count. */
const LOG_EVERY_MS = 10_000;

/** The server options Fastify passes on to Node's http.createServer, and its own timeouts. */
export function serverTimeouts(limits: HttpLimits): {
  http: ServerOptions;
  requestTimeout: number;
  keepAliveTimeout: number;
} {
  return {
    http: {
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: CONNECTION_CHECK_INTERVAL_MS,
    },
    // Node applies this to receiving the request only: a handler waiting for the sequencer is
    // not cut short by it.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
  };
}

/** Counts events and logs the first of every LOG_EVERY_MS window, with how many there were. */
class ThrottledWarning {
  private count = 0;
  private lastLogged = -Infinity;

  constructor(
    private readonly logger: Logger,
    private readonly text: (count: number, sinceMs: number) => string,
  ) {}

  note(now = Date.now()): void {
    this.count++;
    if (now - this.lastLogged < LOG_EVERY_MS) return;
    const since = Number.isFinite(this.lastLogged) ? now - this.lastLogged : 0;
    this.logger.warn(this.text(this.count, since));
    this.lastLogged = now;
    this.count = 0;
  }
}

/**
 * Caps open connections below the descriptor limit and reports when the cap, or the descriptor
 * limit itself, turns clients away. Without the cap, sockets that hold descriptors exhaust them:
 * Node then accepts and resets every new connection (libuv's EMFILE handling) and the process
 * cannot open files or database connections either.
 */
export function guardConnections(server: Server, limits: HttpLimits, registry?: Registry): void {
  const logger = new Logger('http');
  const registers = registry ? [registry] : [];
  const dropped = new Counter({
    name: 'vellum_http_connections_dropped_total',
    help: 'connections closed on arrival because MAX_CONNECTIONS were open',
    registers,
  });
  const acceptErrors = new Counter({
    name: 'vellum_http_accept_errors_total',
    help: 'connections the server could not accept, by error (EMFILE, ENFILE: out of file descriptors)',
    labelNames: ['code'] as const,
    registers,
  });
  server.maxConnections = limits.maxConnections;

  const dropWarning = new ThrottledWarning(
    logger,
    (n, since) =>
      `MAX_CONNECTIONS (${limits.maxConnections}) reached: ${n} new connection(s) closed on arrival` +
      (since > 0 ? ` in the last ${Math.round(since / 1000)} s` : ''),
  );
  server.on('drop', () => {
    dropped.inc();
    dropWarning.note();
  });

  // libuv answers most EMFILE accepts itself (it closes the connection on a reserved descriptor
  // and tells no one), which is why the cap above is the real defence; the errors it does pass
  // on are counted and logged here.
  const acceptWarnings = new Map<string, ThrottledWarning>();
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (err.syscall !== 'accept') {
      // Listen errors also reach Fastify's own listener, which fails the boot with them.
      logger.error(`HTTP server error: ${err.stack ?? String(err)}`);
      return;
    }
    const code = err.code ?? 'unknown';
    acceptErrors.inc({ code });
    let warning = acceptWarnings.get(code);
    if (!warning) {
      warning = new ThrottledWarning(
        logger,
        (n, since) =>
          `cannot accept connections (${code}${code === 'EMFILE' || code === 'ENFILE' ? ': out of file descriptors, lower MAX_CONNECTIONS or raise ulimit -n' : ''}): ${n} refused` +
          (since > 0 ? ` in the last ${Math.round(since / 1000)} s` : ''),
      );
      acceptWarnings.set(code, warning);
    }
    warning.note();
  });
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

type ClosingSocket = Socket & { destroySoon(): void };

/**
 * Reads and discards what is left of a request body after its answer, then lets Node close the
 * connection as the `connection: close` answer asked. Node closes such a connection by calling
 * the socket's destroySoon once the answer is written; that call waits here until the body is in.
 */
function drainThenClose(req: IncomingMessage): void {
  const socket = req.socket as ClosingSocket;
  const closeNow = socket.destroySoon;
  let closeAsked = false;
  let drained = 0;
  const timer = setTimeout(() => socket.destroy(), DRAIN_MAX_MS);
  const close = () => {
    clearTimeout(timer);
    socket.destroySoon = closeNow;
    socket.destroySoon();
  };
  socket.once('close', () => clearTimeout(timer));
  socket.destroySoon = () => {
    closeAsked = true;
    if (req.complete) close();
  };
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_MAX_BYTES) socket.destroy();
  });
  req.once('end', () => {
    if (closeAsked) close();
  });
  req.resume();
}

/**
 * The per-request limits: the body idle timeout, and the drain before closing a connection whose
 * answer went out before its body was all in.
 */
export function limitRequests(fastify: FastifyInstance, limits: HttpLimits): void {
  fastify.addHook('onRequest', (req, _reply, done) => {
    const raw = req.raw;
    if (hasBody(raw) && !raw.complete) {
      // Socket inactivity while the body arrives closes the connection (Node destroys a socket
      // whose timeout nobody handles); cleared once the body is in, so a handler waiting on the
      // sequencer is not cut off.
      const socket = raw.socket;
      socket.setTimeout(limits.bodyIdleTimeoutMs);
      raw.once('end', () => socket.setTimeout(0));
    }
    done();
  });

  fastify.addHook('onSend', (req, reply, payload, done) => {
    if (!req.raw.complete && hasBody(req.raw)) {
      // The rest of the body is not worth reading as another request; the client must reconnect.
      void reply.header('connection', 'close');
      drainThenClose(req.raw);
    }
    done(null, payload);
  });
}
