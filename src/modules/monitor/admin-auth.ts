import {
  ArgumentsHost,
  Catch,
  Inject,
  Injectable,
  Logger,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isVellumError } from '../../core/errors';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import { toHttpError } from '../http/http-error';
import { MonitorHttpError } from './monitor-errors';
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
    const challenge = { 'www-authenticate': 'Bearer realm="vellum-monitor"' };
    if (header === undefined || header === '')
      throw new MonitorHttpError(401, 'missing Authorization: Bearer <admin token>', {}, challenge);
    const m = /^Bearer +([\x21-\x7e]+)$/i.exec(header);
    if (!m) throw new MonitorHttpError(401, 'Authorization must be "Bearer <admin token>"', {}, challenge);
    if (expected === undefined)
      throw new MonitorHttpError(403, 'the monitor admin API is disabled: ADMIN_TOKEN is not set');
    if (!tokenMatches(m[1]!, expected)) throw new MonitorHttpError(403, 'invalid admin token');
    return true;
  }
}

/**
 * Errors of the monitor admin API as JSON `{code, message, ...}`; invalid rules carry the core's
 * `errors` (and `warnings`) with the path of each problem. Everything else goes through the
 * shared mapping (toHttpError).
 */
@Catch()
export class MonitorExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('MonitorApi');

  constructor(@Inject(VELLUM_CONFIG) private readonly config: VellumConfig) {}

  catch(e: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const req = host.switchToHttp().getRequest<FastifyRequest>();
    if (reply.sent) return;
    let status: number;
    let body: Record<string, unknown>;
    let headers: Record<string, string> = {};
    if (e instanceof MonitorHttpError) {
      status = e.status;
      body = { code: e.status, message: e.message, ...e.extra };
      headers = { ...e.headers };
    } else if (isVellumError(e, 'INVALID_ARGUMENT') || isVellumError(e, 'SCHEMA_VIOLATION')) {
      status = 400;
      body = {
        code: 400,
        message: e.message,
        ...(e.details?.errors !== undefined ? { errors: e.details.errors } : {}),
        ...(e.details?.warnings !== undefined ? { warnings: e.details.warnings } : {}),
      };
    } else {
      const res = toHttpError(e, this.config.maxEntryBytes, req.headers['content-type']);
      status = res.status;
      body = res.body ?? { code: res.status, message: 'Not Found' };
      headers = { ...(res.headers ?? {}) };
      if (res.internal) this.logger.error(`${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
    }
    reply.code(status);
    for (const [k, v] of Object.entries(headers)) reply.header(k, v);
    void reply.type('application/json').send(JSON.stringify(body));
  }
}
