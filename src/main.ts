import 'reflect-metadata';
import { ConsoleLogger, type LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';
import { MetricsService } from './modules/api/metrics.service';
import { buildOpenApiDocument, DOCS_PATH } from './modules/api/openapi';
import type { VellumConfig } from './modules/config/config';
import { configureFastify, createFastifyAdapter } from './modules/http/fastify-setup';
import { registerRateLimit } from './modules/http/rate-limit';

export function nestLogLevels(level: VellumConfig['logLevel']): LogLevel[] {
  const order: LogLevel[][] = [['fatal', 'error'], ['warn'], ['log'], ['debug', 'verbose']];
  const upto = { error: 1, warn: 2, info: 3, debug: 4 }[level];
  return order.slice(0, upto).flat();
}

/** LOG_FORMAT=json: Nest's JSON console logger, one object per line; else its text format. */
export function appLogger(config: Pick<VellumConfig, 'logLevel' | 'logFormat'>): LoggerService | LogLevel[] {
  const logLevels = nestLogLevels(config.logLevel);
  return config.logFormat === 'json' ? new ConsoleLogger({ json: true, logLevels }) : logLevels;
}

export interface CreateAppOptions {
  /** Nest preview mode: modules are scanned, no provider is instantiated (no database, no key). */
  readonly preview?: boolean;
  /** Serve Swagger UI at /api/docs (default true). */
  readonly swaggerUi?: boolean;
}

/** Builds and initialises the application (routes registered, database open), not yet listening. */
export async function createApp(
  config: VellumConfig,
  opts: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    createFastifyAdapter(config),
    {
      bodyParser: false,
      abortOnError: false,
      preview: opts.preview ?? false,
      logger: appLogger(config),
    },
  );
  if (opts.preview) return app;
  configureFastify(app, config, app.get(MetricsService));
  await registerRateLimit(app, config.httpLimits);
  if (opts.swaggerUi !== false) {
    SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), {
      jsonDocumentUrl: `${DOCS_PATH}/openapi.json`,
    });
  }
  await app.init();
  return app;
}

export interface RunningServer {
  readonly app: NestFastifyApplication;
  /** Base URL clients use, e.g. http://127.0.0.1:3000 (no trailing slash). */
  readonly url: string;
  readonly port: number;
}

export async function startServer(config: VellumConfig): Promise<RunningServer> {
  const app = await createApp(config);
  await app.listen({ port: config.port, host: config.host });
  const addr = app.getHttpServer().address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { app, url: `http://${hostPart}:${port}`, port };
}
