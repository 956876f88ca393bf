import rateLimit from '@fastify/rate-limit';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { VellumError } from '../../core/errors';
import type { HttpLimits } from '../config/config';

/**
 * Routes never rate limited: probes and scrapes come from the platform, often from one address,
 * and a 429 there would read as the log being down.
 */
export const RATE_LIMIT_EXEMPT: ReadonlySet<string> = new Set(['/ping', '/health', '/ready', '/metrics']);

/**
 * Per client address rate limiting (RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS), counted
 * in this process's memory. Off when RATE_LIMIT_MAX is 0. The address is the socket's peer, so
 * behind a proxy every client shares the proxy's budget. Must run before Nest registers its
 * routes: the plugin adds its hook to each route as it is registered.
 */
export async function registerRateLimit(app: NestFastifyApplication, limits: HttpLimits): Promise<void> {
  if (limits.rateLimitMax === 0) return;
  await app.register(rateLimit, {
    global: true,
    max: limits.rateLimitMax,
    timeWindow: limits.rateLimitWindowMs,
    allowList: (req: FastifyRequest) => RATE_LIMIT_EXEMPT.has(req.routeOptions.url ?? ''),
    // Thrown from the route's hook, so the one exception filter answers it: Rekor's
    // `{code, message}` (grpc-gateway's shape under /api/v2/) with Retry-After.
    errorResponseBuilder: (_req, context) =>
      new VellumError('RATE_LIMITED', `rate limit exceeded, retry in ${context.after}`, {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  });
}
