import { ArgumentsHost, Catch, ExceptionFilter, Inject, Logger, NotFoundException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { VELLUM_CONFIG, VellumConfig } from '../config/config';
import { RepeatLimitedLog } from '../logging/repeat-limited-log';
import { requestLine } from './fastify-setup';
import { toHttpError, type HttpErrorResponse } from './http-error';
import { REKOR_V2_PREFIX, toRekorV2Error } from './rekor-v2-error';
import { RouteTable } from './route-table';

/**
 * The one place errors become HTTP responses. Nest routes the errors of its handlers here, and
 * also Fastify's (body parsing, size limit, media type) and the not-found handler, so every
 * failure leaves as JSON `{code, message}`, never as an HTML or framework-shaped body.
 */
@Catch()
export class VellumExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');
  /**
   * A failing dependency (full disk, database down) fails every request the same way: each
   * distinct error of a route is logged once per window, with its request id, then counted.
   */
  private readonly internalLog = new RepeatLimitedLog(this.logger);

  constructor(
    @Inject(VELLUM_CONFIG) private readonly config: VellumConfig,
    private readonly routes: RouteTable,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const req = http.getRequest<FastifyRequest>();
    if (reply.sent) return;

    let res: HttpErrorResponse;
    // Nest's not-found handler is the only source of a bare NotFoundException: the path matched
    // no route for this method. Whether some other method would match decides 404 vs 405.
    if (exception instanceof NotFoundException) {
      const path = req.url.split('?', 1)[0];
      const allowed = this.routes.allowedMethods(path);
      res =
        allowed.length > 0
          ? {
              status: 405,
              body: {
                code: 405,
                message: `method ${req.method} is not allowed, but [${allowed.join(',')}] are`,
              },
              headers: { allow: allowed.join(', ') },
            }
          : { status: 404, body: { code: 404, message: `path ${path} was not found` } };
    } else {
      res = toHttpError(exception, this.config.maxEntryBytes, req.headers['content-type']);
    }
    if (req.url.startsWith(REKOR_V2_PREFIX)) res = toRekorV2Error(res, exception);
    if (res.internal) {
      const e = exception as Error;
      const error = e?.stack ?? String(exception);
      const route = req.routeOptions?.url ?? req.url.split('?', 1)[0];
      this.internalLog.error(
        `${req.method} ${route}: ${error}`,
        requestLine(this.config, `${req.method} ${req.url}: ${error}`, {
          requestId: req.id,
          method: req.method,
          url: req.url,
          error,
        }),
      );
    }
    reply.code(res.status);
    if (res.headers) for (const [k, v] of Object.entries(res.headers)) reply.header(k, v);
    if (res.body === null) {
      void reply.send();
    } else {
      void reply.type('application/json').send(JSON.stringify(res.body));
    }
  }
}
