import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { VellumError } from '../../core/errors';
import { requireJsonDepth } from '../../core/json-limits';
import type { VellumConfig } from '../config/config';
import type { MetricsService } from '../api/metrics.service';
import { installLeanAsyncResourceBind } from './async-resource-bind';
import { guardConnections, limitRequests, serverTimeouts } from './connection-limits';
import { RouteTable } from './route-table';

/** Route config flag: hand the handler the raw request bytes instead of parsed JSON. */
export const RAW_JSON = 'vellumRawJson';

/** The header a request id arrives in (from a proxy) and is returned in. */
export const REQUEST_ID_HEADER = 'x-request-id';
/** A caller's id is kept only if it is short printable ASCII: it is attacker-controlled and goes into logs. */
const ACCEPTABLE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The id of one HTTP request: the caller's (a proxy's) x-request-id if acceptable, else a fresh UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && ACCEPTABLE_REQUEST_ID.test(given) ? given : randomUUID();
}

export function createFastifyAdapter(config: VellumConfig): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.maxEntryBytes,
    logger: false,
    // Fastify's own requestIdHeader would take any header value as is; requestId() checks it.
    requestIdHeader: false,
    genReqId: requestId,
    // sigstore-python POSTs to `/api/v1/log/entries/retrieve/`; UUIDs of the wrong length should
    // reach the handler's pattern check (422) instead of failing the router's length cap (404).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // Headers, request and keep-alive timeouts: a client holding a connection open without
    // finishing its request is closed.
    ...serverTimeouts(config.httpLimits),
    // Under load a keep-alive connection carries thousands of requests; Node's default of 1000
    // requests per socket would make clients reconnect needlessly.
    maxRequestsPerSocket: 0,
    return503OnClosing: true,
  });
}

/**
 * Fastify-level behaviour Nest does not cover; call after NestFactory.create and before init
 * (the onRoute hook must see Nest register its routes).
 */
export function configureFastify(
  app: NestFastifyApplication,
  config: VellumConfig,
  metrics?: MetricsService,
): void {
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  const routes = app.get(RouteTable);
  // Fastify's body parsing binds an AsyncResource per request: without DEP0172's accessor.
  installLeanAsyncResourceBind();

  fastify.addHook('onRoute', (route) => {
    routes.add(route.url, route.method as string | string[]);
  });

  guardConnections(fastify.server, config.httpLimits, metrics?.registry);
  limitRequests(fastify, config.httpLimits);

  // JSON is the only accepted body type: anything else is 415 (Fastify's "no parser" error).
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: config.maxEntryBytes },
    (req: FastifyRequest, body: Buffer | string, done: (err: Error | null, body?: unknown) => void) => {
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      if (buf.length === 0) return done(null, undefined);
      // Every JSON body, raw or parsed, is bounded here before anything walks it recursively
      // (JSON.stringify of a search entry, schema checks, canonicalization): size by bodyLimit,
      // nesting by one linear scan.
      try {
        requireJsonDepth(buf);
      } catch (e) {
        return done(e as Error);
      }
      // The submission route parses inside the verification workers, off the event loop.
      if ((req.routeOptions.config as unknown as Record<string, unknown> | undefined)?.[RAW_JSON] === true) {
        return done(null, buf);
      }
      try {
        done(null, JSON.parse(buf.toString('utf8')));
      } catch (e) {
        done(new VellumError('INVALID_ARGUMENT', `malformed JSON in request body: ${(e as Error).message}`));
      }
    },
  );

  fastify.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    reply.header('access-control-allow-origin', '*');
    if (req.method === 'GET') {
      // Rekor answers GETs with no-cache headers: entries carry proofs against the latest root.
      reply.header('cache-control', 'no-cache, no-store, must-revalidate');
    } else if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      // CORS preflight, answered permissively like Rekor's library defaults (no route has OPTIONS).
      void reply
        .code(204)
        .header('access-control-allow-methods', 'GET, POST')
        .header(
          'access-control-allow-headers',
          req.headers['access-control-request-headers'] ?? 'content-type',
        )
        .header('access-control-max-age', '600')
        .send();
      return;
    }
    done();
  });

  // One line per request at LOG_LEVEL=debug only: at info it would be thousands a second.
  if (config.logLevel === 'debug') {
    const logger = new Logger('http');
    fastify.addHook('onResponse', (req, reply, done) => {
      logger.debug(
        requestLine(
          config,
          `${req.method} ${req.url} ${reply.statusCode} ${reply.elapsedTime.toFixed(1)} ms`,
          {
            requestId: req.id,
            method: req.method,
            url: req.url,
            statusCode: reply.statusCode,
            durationMs: Math.round(reply.elapsedTime * 10) / 10,
          },
        ),
      );
      done();
    });
  }

  if (metrics) {
    fastify.addHook('onResponse', (req, reply, done) => {
      const route = req.routeOptions.url ?? 'unmatched';
      metrics.observeHttp(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  }
}

/**
 * A log message about one request: with LOG_FORMAT=json an object (the JSON logger nests it
 * under `message`, so collectors can filter on `requestId`), otherwise the text with the id.
 */
export function requestLine(
  config: Pick<VellumConfig, 'logFormat'>,
  text: string,
  fields: { readonly requestId: string } & Record<string, unknown>,
): string | Record<string, unknown> {
  return config.logFormat === 'json' ? { ...fields, text } : `[${fields.requestId}] ${text}`;
}
