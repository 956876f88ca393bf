import { Controller, Get, Inject, Optional, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { VELLUM_CONFIG, VellumConfig } from '../config/config';
import { VerifyPool } from '../entries/verify-pool';
import { LogReader } from '../log/log-reader.service';
import { HealthService } from '../metrics/health.service';
import { WRITE_PATH, type WritePath } from '../write-path/write-path';
import { MetricsService } from './metrics.service';
import { errorResponse } from './openapi-schemas';

/** Liveness, readiness and metrics: what an orchestrator and Prometheus poll. */
@ApiTags('operations')
@Controller()
export class OpsController {
  constructor(
    @Inject(VELLUM_CONFIG) private readonly config: VellumConfig,
    private readonly reader: LogReader,
    private readonly metrics: MetricsService,
    // Absent in roles without them (ROLE=sequencer has no verification pool, ROLE=monitor no
    // writer); HealthService carries the readiness of whatever components the role runs.
    @Optional() @Inject(WRITE_PATH) private readonly writer?: WritePath,
    @Optional() private readonly pool?: VerifyPool,
    @Optional() private readonly healthChecks?: HealthService,
  ) {
    if (writer !== undefined)
      metrics.gauge(
        'vellum_sequencer_pending_entries',
        'entries accepted for sequencing, not yet committed',
        () => writer.pendingCount(),
      );
    if (pool !== undefined)
      metrics.gauge(
        'vellum_verify_inflight_entries',
        'entries waiting for or in signature verification',
        () => pool.inflight,
      );
    metrics.gauge('vellum_tree_size', 'size of the latest signed checkpoint', async () => {
      try {
        return (await this.reader.latestCheckpoint()).size;
      } catch {
        // A scrape must not fail because the log is briefly unreadable; /ready reports that.
        return Number.NaN;
      }
    });
  }

  @Get('ping')
  @ApiOperation({ operationId: 'ping', summary: 'Heartbeat (Rekor answers "." from its router middleware)' })
  @ApiProduces('text/plain')
  @ApiResponse({ status: 200, description: 'alive', schema: { type: 'string' } })
  ping(@Res() reply: FastifyReply): void {
    void reply.code(200).type('text/plain; charset=utf-8').send('.');
  }

  @Get('health')
  @ApiOperation({ operationId: 'health', summary: 'Liveness: the process is up and serving HTTP' })
  @ApiResponse({
    status: 200,
    description: 'alive',
    schema: { type: 'object', properties: { status: { type: 'string' } } },
  })
  health(@Res() reply: FastifyReply): void {
    void reply.code(200).type('application/json').send('{"status":"ok"}');
  }

  @Get('ready')
  @ApiOperation({
    operationId: 'ready',
    summary: 'Readiness: the log can be read and verification workers are running',
  })
  @ApiResponse({
    status: 200,
    description: 'ready',
    schema: { type: 'object', properties: { status: { type: 'string' }, treeSize: { type: 'integer' } } },
  })
  @ApiResponse({ status: 503, ...errorResponse })
  async ready(@Res() reply: FastifyReply): Promise<void> {
    let problem: string | undefined;
    let treeSize = 0;
    try {
      treeSize = (await this.reader.latestCheckpoint()).size;
    } catch (e) {
      problem = `log unreadable: ${(e as Error).message}`;
    }
    if (problem === undefined && this.pool !== undefined && this.pool.size < this.config.verifyWorkers)
      problem = 'verification workers are restarting';
    const components = this.healthChecks !== undefined ? await this.healthChecks.report() : undefined;
    if (problem === undefined && components !== undefined && !components.ok) {
      problem = Object.entries(components.checks)
        .filter(([, c]) => !c.ok)
        .map(([name, c]) => `${name}: ${c.detail ?? 'failing'}`)
        .join('; ');
    }
    // Each component's state either way, so a 503 names which part cannot serve and why.
    const checks =
      components !== undefined
        ? {
            checks: Object.fromEntries(
              Object.entries(components.checks).map(([k, c]) => [k, c.detail ?? (c.ok ? 'ok' : 'failing')]),
            ),
          }
        : {};
    if (problem !== undefined) {
      void reply
        .code(503)
        .type('application/json')
        .send(JSON.stringify({ code: 503, message: `not ready: ${problem}`, ...checks }));
      return;
    }
    void reply
      .code(200)
      .type('application/json')
      .send(JSON.stringify({ status: 'ready', treeSize, role: this.config.role, ...checks }));
  }

  @Get('metrics')
  @ApiOperation({ operationId: 'metrics', summary: 'Prometheus metrics (text exposition format)' })
  @ApiProduces('text/plain')
  @ApiResponse({ status: 200, description: 'metrics', schema: { type: 'string' } })
  async scrape(@Res() reply: FastifyReply): Promise<void> {
    const text = await this.metrics.registry.metrics();
    void reply.code(200).type(this.metrics.registry.contentType).send(text);
  }
}
