import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { VellumError } from '../../core/errors';
import { MONITOR_CONFIG, type MonitorConfig } from './monitor.config';

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time check of a presented token against the configured one (hashing equalises lengths). */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` on every /v1/monitor route. Missing or malformed
 * credentials: 401 with `WWW-Authenticate: Bearer`; a wrong token, or no ADMIN_TOKEN configured
 * (admin API disabled): 403.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  constructor(@Inject(MONITOR_CONFIG) private readonly config: MonitorConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const expected = this.config.adminToken;
    const header = req.headers.authorization;
    const challenge = { challenge: 'Bearer realm="vellum-monitor"' };
    if (header === undefined || header === '')
      throw new VellumError('UNAUTHENTICATED', 'missing Authorization: Bearer <admin token>', challenge);
    const m = /^Bearer +([\x21-\x7e]+)$/i.exec(header);
    if (!m)
      throw new VellumError('UNAUTHENTICATED', 'Authorization must be "Bearer <admin token>"', challenge);
    if (expected === undefined)
      throw new VellumError('FORBIDDEN', 'the monitor admin API is disabled: ADMIN_TOKEN is not set');
    if (!tokenMatches(m[1]!, expected)) throw new VellumError('FORBIDDEN', 'invalid admin token');
    return true;
  }
}
