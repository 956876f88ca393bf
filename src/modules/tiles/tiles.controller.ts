import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ref } from '../api/openapi-schemas';
import { TileReader } from './tile-reader.service';

/** C2SP tlog-tiles: full tiles never change, so any cache may keep them for good. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Partial tiles are replaced by wider ones as the log grows; keep them briefly. */
const SHORT_LIVED = 'public, max-age=5';

/** Errors are JSON whatever the success type is. */
const jsonError = { description: 'error', content: { 'application/json': { schema: ref('Error') } } };

/** The request path without its leading slash and query string. */
function pathOf(req: FastifyRequest): string {
  return req.url.split('?', 1)[0].replace(/^\/+/, '');
}

@ApiTags('tiles')
@Controller()
export class TilesController {
  constructor(private readonly tiles: TileReader) {}

  @Get('checkpoint')
  @ApiOperation({
    operationId: 'getCheckpoint',
    summary: 'The latest signed checkpoint (C2SP tlog-checkpoint signed note)',
  })
  @ApiProduces('text/plain; charset=utf-8')
  @ApiResponse({ status: 200, description: 'signed checkpoint note', schema: { type: 'string' } })
  @ApiResponse({ status: 503, ...jsonError })
  async getCheckpoint(@Res() reply: FastifyReply): Promise<void> {
    const cp = await this.tiles.checkpoint();
    void reply.code(200).type('text/plain; charset=utf-8').header('cache-control', 'no-cache').send(cp.note);
  }

  @Get('tile/*')
  @ApiOperation({
    operationId: 'getTile',
    summary: 'A C2SP tlog-tiles hash tile or entry bundle',
    description:
      'Paths: tile/{L}/{N}, tile/{L}/{N}.p/{W}, tile/entries/{N}, tile/entries/{N}.p/{W}. ' +
      'N is written in 3-digit groups, all but the last prefixed with "x" (x001/x234/067); only the ' +
      'canonical spelling is accepted. W is 1..255. Entry bundles hold uint16 big-endian ' +
      'length-prefixed canonical entry bodies. Full tiles are immutable; 404 for a tile the latest ' +
      'checkpoint does not cover.',
  })
  @ApiParam({
    name: 'path',
    description: 'the rest of the tile path, e.g. 0/x001/067, 1/000.p/17, entries/002.p/200',
    schema: { type: 'string' },
  })
  @ApiProduces('application/octet-stream')
  @ApiResponse({ status: 200, description: 'tile bytes', schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 400, ...jsonError })
  @ApiResponse({ status: 404, ...jsonError })
  async getTile(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const tile = await this.tiles.read(pathOf(req));
    void reply
      .code(200)
      .type('application/octet-stream')
      .header('cache-control', tile.immutable ? IMMUTABLE : SHORT_LIVED)
      .send(tile.body);
  }
}
