import { Body, Controller, Inject, Post, Res } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { isVellumError, VellumError } from '../../core/errors';
import { MetricsService } from '../api/metrics.service';
import { VerifyPool } from '../entries/verify-pool';
import { RAW_JSON } from '../http/fastify-setup';
import { LogIdentity } from '../identity/log-identity';
import { WRITE_PATH, type WritePath } from '../write-path/write-path';
import { CREATE_ENTRY_REQUEST, TRANSPARENCY_LOG_ENTRY, V2_ERROR } from './openapi-v2';
import { toTransparencyLogEntry } from './transparency-log-entry';

const errorResponse = { description: 'error', schema: V2_ERROR } as const;

/**
 * Rekor v2 write API. Thin: the request is parsed and verified on the verification pool
 * (core/entries/v2), written through the same write path (WRITE_PATH) as v1 entries (one tree behind both
 * faces), and answered once the batch's checkpoint is signed and committed. Errors go through
 * the one exception filter, which gives v2 routes grpc-gateway's shape.
 */
@ApiTags('rekor-v2')
@Controller('api/v2/log/entries')
export class V2EntriesController {
  constructor(
    private readonly pool: VerifyPool,
    @Inject(WRITE_PATH) private readonly writer: WritePath,
    private readonly identity: LogIdentity,
    private readonly metrics: MetricsService,
  ) {}

  @Post()
  @RouteConfig({ [RAW_JSON]: true })
  @ApiOperation({
    operationId: 'createEntryV2',
    summary: 'Creates a Rekor v2 entry (hashedrekord or dsse 0.0.2)',
    description:
      'Verifies the request, appends the canonical entry to the same tree as the v1 API, and answers once the checkpoint covering it is signed and committed, with an inclusion proof against that checkpoint. The request body is limited by MAX_ENTRY_BYTES (4 MiB by default); a DSSE payload is hashed, not stored.',
  })
  @ApiBody({ schema: CREATE_ENTRY_REQUEST, required: true })
  @ApiResponse({ status: 201, description: 'the TransparencyLogEntry', schema: TRANSPARENCY_LOG_ENTRY })
  @ApiResponse({ status: 400, ...errorResponse })
  @ApiResponse({
    status: 409,
    ...errorResponse,
    headers: {
      'x-log-index': { description: 'index of the entry already logged', schema: { type: 'string' } },
    },
  })
  @ApiResponse({ status: 413, ...errorResponse })
  @ApiResponse({
    status: 503,
    ...errorResponse,
    headers: { 'retry-after': { schema: { type: 'string' } } },
  })
  async create(@Body() raw: Buffer | undefined, @Res() reply: FastifyReply): Promise<void> {
    if (raw === undefined) throw new VellumError('INVALID_ENTRY', 'CreateEntryRequest in body is required');
    let kind = 'unknown';
    try {
      const prepared = await this.pool.prepareV2(raw);
      kind = prepared.kind;
      const accepted = await this.writer.submit(prepared);
      this.metrics.countEntry('accepted', kind);
      void reply
        .code(201)
        .type('application/json')
        .send(JSON.stringify(toTransparencyLogEntry(accepted, this.identity.v2LogId)));
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
}
