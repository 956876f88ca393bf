import { Body, Controller, Delete, Get, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { validateRules } from '../../core/monitor';
import { AdminAuthGuard } from './admin-auth';
import {
  MonitorAdminService,
  alertSummaryView,
  alertView,
  expectationView,
  iso,
  webhookView,
} from './admin.service';
import { BackfillService } from './backfill.service';
import { EvaluatorService } from './evaluator.service';
import { badRequest, notFound } from './monitor-errors';
import { AlertRepository } from './repositories/alert.repository';
import { BackfillRepository, type BackfillRecord } from './repositories/backfill.repository';
import { DeliveryRepository } from './repositories/delivery.repository';
import { ExpectationRepository } from './repositories/expectation.repository';
import { RuleRepository, type StoredRule } from './repositories/rule.repository';
import { WebhookRepository } from './repositories/webhook.repository';
import { RuleService } from './rule.service';

/** OpenAPI summaries of the admin routes, by operation id. */
const SUMMARIES = {
  monitorStatus: 'Monitor cursor, lag, rules and outbox state',
  listMonitorRules: 'List identity rules (admin API and rules file)',
  createMonitorRule: 'Create an identity rule; 400 lists every problem with its path',
  validateMonitorRules: 'Validate rules without storing them',
  getMonitorRule: 'Get one identity rule',
  deleteMonitorRule: 'Delete an identity rule created through the API',
  listMonitorAlerts:
    'List alerts, newest first; filters status, rule, type, since (RFC 3339 or Unix ms), limit, offset',
  getMonitorAlert: 'One alert with its evidence, deliveries and audit log',
  getMonitorAlertEvidence:
    'Entry body, inclusion proof and signed checkpoint, checkable offline with the log key',
  acknowledgeMonitorAlert: 'Acknowledge an alert',
  resolveMonitorAlert: 'Resolve an alert: {resolution: expected | compromise | false_positive, reason?}',
  createMonitorExpectation: 'Pre-register an expected signing (run invocation URI and/or digest)',
  listMonitorExpectations: 'List expected signings',
  deleteMonitorExpectation: 'Delete an expected signing',
  createMonitorBackfill: 'Run a rule over past entries: {rule, fromIndex?, toIndex?}; progress via GET',
  listMonitorBackfills: 'List backfill jobs, newest first',
  getMonitorBackfill: 'One backfill job and its progress',
  createMonitorWebhook:
    'Create a webhook endpoint {url, eventTypes, name?}; the whsec_ secret is shown only here',
  listMonitorWebhooks: 'List webhook endpoints (no secrets)',
  getMonitorWebhook: 'One endpoint with its recent delivery attempts',
  enableMonitorWebhook: 'Re-enable a disabled endpoint',
  deleteMonitorWebhook: 'Delete an endpoint and its pending deliveries',
} as const;

const Operation = (operationId: keyof typeof SUMMARIES): MethodDecorator =>
  ApiOperation({ operationId, summary: SUMMARIES[operationId] });

function send(reply: FastifyReply, status: number, body: unknown): void {
  void reply.code(status).type('application/json').send(JSON.stringify(body));
}

function ruleView(r: StoredRule): Record<string, unknown> {
  return {
    name: r.name,
    source: r.source,
    digest: r.digest,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    rule: r.document,
  };
}

function backfillView(b: BackfillRecord): Record<string, unknown> {
  const total = b.candidates ?? b.toIndex - b.fromIndex;
  return {
    id: b.id,
    rule: b.ruleId,
    status: b.status,
    mode: b.mode,
    fromIndex: b.fromIndex,
    toIndex: b.toIndex,
    nextIndex: b.nextIndex,
    candidates: total,
    processed: b.processed,
    progress:
      b.toIndex === b.fromIndex ? 1 : Math.min(1, (b.nextIndex - b.fromIndex) / (b.toIndex - b.fromIndex)),
    alerts: b.alerts,
    error: b.error,
    createdAt: iso(b.createdAt),
    updatedAt: iso(b.updatedAt),
    finishedAt: iso(b.finishedAt),
  };
}

@ApiTags('monitor')
@ApiBearerAuth()
@UseGuards(AdminAuthGuard)
@Controller('v1/monitor')
export class MonitorController {
  constructor(
    private readonly rules: RuleService,
    private readonly admin: MonitorAdminService,
    private readonly ruleRepo: RuleRepository,
    private readonly alerts: AlertRepository,
    private readonly expectations: ExpectationRepository,
    private readonly webhooks: WebhookRepository,
    private readonly deliveries: DeliveryRepository,
    private readonly jobs: BackfillRepository,
    private readonly evaluator: EvaluatorService,
    private readonly backfills: BackfillService,
  ) {}

  // -- status ----------------------------------------------------------------------------------

  @Get('status')
  @Operation('monitorStatus')
  async status(@Res() reply: FastifyReply): Promise<void> {
    const ev = await this.evaluator.status();
    const rules = await this.ruleRepo.list();
    send(reply, 200, {
      cursor: ev,
      rules: {
        count: rules.length,
        version: await this.ruleRepo.version(),
        file: (await this.rules.rulesFileStatus()) ?? null,
      },
      outbox: await this.deliveries.stats(),
    });
  }

  // -- rules -----------------------------------------------------------------------------------

  @Get('rules')
  @Operation('listMonitorRules')
  async listRules(@Res() reply: FastifyReply): Promise<void> {
    send(reply, 200, { rules: (await this.ruleRepo.list()).map(ruleView) });
  }

  @Post('rules')
  @Operation('createMonitorRule')
  async createRule(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    const res = await this.rules.create(body);
    const jobs = res.compiled.backfill ? (await this.backfills.listRecent(res.compiled.id)).slice(0, 1) : [];
    send(reply, 201, {
      ...ruleView(res.rule),
      warnings: res.warnings,
      ...(jobs.length > 0 ? { backfill: backfillView(jobs[0]!) } : {}),
    });
  }

  @Post('rules/validate')
  @Operation('validateMonitorRules')
  validateRules(@Body() body: unknown, @Res() reply: FastifyReply): void {
    const v = validateRules(body);
    send(reply, 200, {
      valid: v.errors.length === 0,
      errors: v.errors,
      warnings: v.warnings,
      rules: v.rules.map((r) => r.document),
    });
  }

  @Get('rules/:name')
  @Operation('getMonitorRule')
  async getRule(@Param('name') name: string, @Res() reply: FastifyReply): Promise<void> {
    send(reply, 200, ruleView(await this.rules.get(name)));
  }

  @Delete('rules/:name')
  @Operation('deleteMonitorRule')
  async deleteRule(@Param('name') name: string, @Res() reply: FastifyReply): Promise<void> {
    await this.rules.remove(name);
    void reply.code(204).send();
  }

  // -- alerts ----------------------------------------------------------------------------------

  @Get('alerts')
  @Operation('listMonitorAlerts')
  async listAlerts(@Query() q: Record<string, unknown>, @Res() reply: FastifyReply): Promise<void> {
    const f = this.admin.alertFilter(q ?? {});
    const { alerts, total } = await this.alerts.list(f);
    send(reply, 200, { alerts: alerts.map(alertSummaryView), total, limit: f.limit, offset: f.offset });
  }

  @Get('alerts/:id')
  @Operation('getMonitorAlert')
  async getAlert(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const a = await this.admin.getAlert(id);
    const deliveries = await this.deliveries.forEvent(id);
    send(reply, 200, {
      ...alertView(a),
      deliveries: deliveries.map((d) => ({
        endpoint: d.endpointId,
        status: d.status,
        attempts: d.attempts,
        lastStatus: d.lastStatus,
        lastError: d.lastError,
        ...(d.status === 'pending' ? { nextAttemptAt: iso(d.nextAttemptAt) } : {}),
        deliveredAt: iso(d.deliveredAt),
      })),
      audit: (await this.alerts.auditLog(id)).map((x) => ({ ...x, at: iso(x.at) })),
    });
  }

  @Get('alerts/:id/evidence')
  @Operation('getMonitorAlertEvidence')
  async evidence(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const a = await this.admin.getAlert(id);
    if (a.evidence === undefined) throw notFound(`evidence of alert ${id}`);
    send(reply, 200, a.evidence);
  }

  @Post('alerts/:id/ack')
  @Operation('acknowledgeMonitorAlert')
  async ack(@Param('id') id: string, @Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    send(reply, 200, alertSummaryView(await this.admin.acknowledge(id, body)));
  }

  @Post('alerts/:id/resolve')
  @Operation('resolveMonitorAlert')
  async resolve(@Param('id') id: string, @Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    send(reply, 200, alertSummaryView(await this.admin.resolve(id, body)));
  }

  // -- expectations ----------------------------------------------------------------------------

  @Post('expectations')
  @Operation('createMonitorExpectation')
  async createExpectation(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    send(reply, 201, expectationView(await this.admin.createExpectation(body)));
  }

  @Get('expectations')
  @Operation('listMonitorExpectations')
  async listExpectations(@Res() reply: FastifyReply): Promise<void> {
    send(reply, 200, { expectations: (await this.expectations.list()).map(expectationView) });
  }

  @Delete('expectations/:id')
  @Operation('deleteMonitorExpectation')
  async deleteExpectation(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    await this.admin.deleteExpectation(id);
    void reply.code(204).send();
  }

  // -- backfills -------------------------------------------------------------------------------

  @Post('backfills')
  @Operation('createMonitorBackfill')
  async createBackfill(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw badRequest('body must be a JSON object');
    const o = body as Record<string, unknown>;
    if (typeof o.rule !== 'string' || o.rule === '') throw badRequest('rule (a rule name) is required');
    const int = (k: string): number | undefined => {
      const v = o[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
        throw badRequest(`${k} must be a non-negative integer`);
      return v;
    };
    const job = await this.backfills.create(o.rule, int('fromIndex'), int('toIndex'));
    send(reply, 202, backfillView(job));
  }

  @Get('backfills')
  @Operation('listMonitorBackfills')
  async listBackfills(@Res() reply: FastifyReply): Promise<void> {
    send(reply, 200, { backfills: (await this.jobs.list()).map(backfillView) });
  }

  @Get('backfills/:id')
  @Operation('getMonitorBackfill')
  async getBackfill(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const b = await this.jobs.get(id);
    if (!b) throw notFound(`backfill ${id}`);
    send(reply, 200, backfillView(b));
  }

  // -- webhooks --------------------------------------------------------------------------------

  @Post('webhooks')
  @Operation('createMonitorWebhook')
  async createWebhook(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    const { webhook, secret } = await this.admin.createWebhook(body);
    send(reply, 201, { ...webhookView(webhook), secret });
  }

  @Get('webhooks')
  @Operation('listMonitorWebhooks')
  async listWebhooks(@Res() reply: FastifyReply): Promise<void> {
    const list = await this.webhooks.list();
    const out = [];
    for (const w of list) out.push({ ...webhookView(w), deliveries: await this.deliveries.stats(w.id) });
    send(reply, 200, { webhooks: out });
  }

  @Get('webhooks/:id')
  @Operation('getMonitorWebhook')
  async getWebhook(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    const w = await this.admin.getWebhook(id);
    const attempts = await this.deliveries.attemptsFor(w.id);
    send(reply, 200, {
      ...webhookView(w),
      deliveries: await this.deliveries.stats(w.id),
      attempts: attempts.map((a) => ({
        eventId: a.event_id,
        attempt: Number(a.attempt),
        at: iso(Number(a.at)),
        status: a.status === null ? null : Number(a.status),
        outcome: a.outcome,
        error: a.error ?? null,
        durationMs: Number(a.duration_ms),
      })),
    });
  }

  @Post('webhooks/:id/enable')
  @Operation('enableMonitorWebhook')
  async enableWebhook(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    send(reply, 200, webhookView(await this.admin.enableWebhook(id)));
  }

  @Delete('webhooks/:id')
  @Operation('deleteMonitorWebhook')
  async deleteWebhook(@Param('id') id: string, @Res() reply: FastifyReply): Promise<void> {
    await this.admin.deleteWebhook(id);
    void reply.code(204).send();
  }
}
