import { Body, Controller, Get, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { isVellumError, VellumError } from '../../core/errors';
import { MetricsService } from '../api/metrics.service';
import { int64Query } from '../api/rekor-params';
import { errorResponse, ref, UUID_PATTERN } from '../api/openapi-schemas';
import { RAW_JSON } from '../http/fastify-setup';
import { entryLocation, schemaError } from '../http/http-error';
import { LogReader } from '../log/log-reader.service';
import type { StoredEntry } from '../log/log.types';
import { WRITE_PATH, type WritePath } from '../write-path/write-path';
import { EntryViews, isUuid } from './entry-views';
import { parseSearchLogQuery } from './search-log-query';
import { VerifyPool } from './verify-pool';

/**
 * Rekor v1 entry routes. Handlers write the Fastify reply themselves (no Nest serialization,
 * pipes or interceptors): the submission route is the hot path of the whole service.
 */
@ApiTags('entries')
@Controller('api/v1/log/entries')
export class EntriesController {
  constructor(
    private readonly pool: VerifyPool,
    @Inject(WRITE_PATH) private readonly writer: WritePath,
    private readonly reader: LogReader,
    private readonly views: EntryViews,
    private readonly metrics: MetricsService,
  ) {}

  @Post()
  @RouteConfig({ [RAW_JSON]: true })
  @ApiOperation({
    operationId: 'createLogEntry',
    summary: 'Creates an entry in the transparency log',
    description:
      'Verifies the entry, appends it, and answers once the batch holding it has been committed, with the signed entry timestamp, an inclusion proof and the checkpoint it leads to.',
  })
  @ApiBody({ schema: ref('ProposedEntry'), required: true })
  @ApiResponse({
    status: 201,
    description: 'Returns the entry created in the transparency log',
    schema: ref('LogEntry'),
    headers: {
      ETag: { description: 'UUID of the log entry', schema: { type: 'string' } },
      Location: { description: 'URI location of the log entry', schema: { type: 'string', format: 'uri' } },
    },
  })
  @ApiResponse({ status: 400, ...errorResponse })
  @ApiResponse({
    status: 409,
    ...errorResponse,
    headers: { Location: { schema: { type: 'string', format: 'uri' } } },
  })
  @ApiResponse({ status: 422, ...errorResponse })
  @ApiResponse({ status: 503, ...errorResponse })
  async create(@Body() raw: Buffer | undefined, @Res() reply: FastifyReply): Promise<void> {
    if (raw === undefined) throw schemaError(602, 'proposedEntry in body is required');
    let kind = 'unknown';
    try {
      const prepared = await this.pool.prepare(raw);
      kind = prepared.kind;
      const accepted = await this.writer.submit(prepared);
      const { entryId, json } = this.views.mapJson(
        accepted.entry,
        accepted.checkpoint,
        accepted.inclusionProof,
      );
      this.metrics.countEntry('accepted', kind);
      void reply
        .code(201)
        .header('etag', entryId)
        .header('location', entryLocation(entryId))
        .type('application/json')
        .send(json);
    } catch (e) {
      const outcome = isVellumError(e, 'DUPLICATE_ENTRY')
        ? 'duplicate'
        : isVellumError(e) && e.code !== 'INTERNAL' && e.code !== 'UNAVAILABLE'
          ? 'rejected'
          : 'error';
      this.metrics.countEntry(outcome, kind);
      throw e;
    }
  }

  @Get()
  @ApiOperation({
    operationId: 'getLogEntryByIndex',
    summary: 'Retrieves an entry and inclusion proof by index',
  })
  @ApiQuery({ name: 'logIndex', required: true, schema: { type: 'integer', minimum: 0 } })
  @ApiResponse({
    status: 200,
    description: 'the entry, proven against the latest checkpoint',
    schema: ref('LogEntry'),
  })
  @ApiResponse({ status: 404, description: 'no entry at this index (empty body)' })
  @ApiResponse({ status: 422, ...errorResponse })
  async getByIndex(@Query('logIndex') logIndexRaw: unknown, @Res() reply: FastifyReply): Promise<void> {
    const index = int64Query('logIndex', logIndexRaw, { min: 0 });
    const entry = index <= Number.MAX_SAFE_INTEGER ? await this.reader.getByIndex(index) : null;
    await this.sendOne(entry, reply);
  }

  @Get(':entryUUID')
  @ApiOperation({
    operationId: 'getLogEntryByUUID',
    summary: 'Get log entry and information required to generate an inclusion proof',
  })
  @ApiParam({
    name: 'entryUUID',
    description: 'EntryID (80 hex: tree id + leaf hash) or bare leaf hash (64 hex)',
    schema: { type: 'string', pattern: UUID_PATTERN },
  })
  @ApiResponse({
    status: 200,
    description: 'the entry, proven against the latest checkpoint',
    schema: ref('LogEntry'),
  })
  @ApiResponse({ status: 400, ...errorResponse })
  @ApiResponse({ status: 404, description: 'no such entry (empty body)' })
  @ApiResponse({ status: 422, ...errorResponse })
  async getByUuid(@Param('entryUUID') uuid: string, @Res() reply: FastifyReply): Promise<void> {
    if (!isUuid(uuid)) throw schemaError(605, `entryUUID in path should match '${UUID_PATTERN}'`);
    const target = this.views.parseUuid(uuid);
    if (target.kind === 'invalid-tree') {
      throw new VellumError(
        'INVALID_ARGUMENT',
        `validation error: tree ID ${uuid.slice(0, 16)} is not a valid int64`,
      );
    }
    const entry = target.kind === 'leaf' ? await this.reader.getByLeafHash(target.leafHash) : null;
    await this.sendOne(entry, reply);
  }

  @Post('retrieve')
  @ApiOperation({
    operationId: 'searchLogQuery',
    summary: 'Searches transparency log for one or more log entries',
  })
  @ApiBody({ schema: ref('SearchLogQuery'), required: true })
  @ApiResponse({
    status: 200,
    description: 'the entries found (misses are left out), proven against the latest checkpoint',
    schema: { type: 'array', items: ref('LogEntry') },
  })
  @ApiResponse({ status: 400, ...errorResponse })
  @ApiResponse({ status: 422, ...errorResponse })
  async retrieve(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    const query = parseSearchLogQuery(body);
    // Rekor's order: hits for entryUUIDs and entries first, then for logIndexes; misses dropped.
    const leafHashes: Buffer[] = [];
    for (const u of query.entryUUIDs) {
      const t = this.views.parseUuid(u);
      if (t.kind === 'invalid-tree') throw new VellumError('INVALID_ARGUMENT', `invalid entryID ${u}`);
      if (t.kind === 'leaf') leafHashes.push(t.leafHash);
    }
    const prepared = await Promise.all(query.entries.map((p) => this.pool.prepareForSearch(p)));
    for (const p of prepared) leafHashes.push(p.leafHash);
    const byHash = await Promise.all(leafHashes.map((h) => this.reader.getByLeafHash(h)));
    const byIndex = await Promise.all(
      query.logIndexes.map((n) => (n <= Number.MAX_SAFE_INTEGER ? this.reader.getByIndex(n) : null)),
    );
    const hits = [...byHash, ...byIndex].filter((e): e is StoredEntry => e !== null);
    const maps = await this.views.withLatestProofs(hits);
    void reply.code(200).type('application/json').send(JSON.stringify(maps));
  }

  private async sendOne(entry: StoredEntry | null, reply: FastifyReply): Promise<void> {
    if (entry === null) {
      // Rekor answers a missing entry with 404 and no body at all.
      void reply.code(404).send();
      return;
    }
    const [map] = await this.views.withLatestProofs([entry]);
    void reply.code(200).type('application/json').send(JSON.stringify(map));
  }
}
