import { Controller, Get, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { VellumError } from '../../core/errors';
import { WitnessService } from './witness.service';

@ApiTags('witness')
@Controller()
export class WitnessController {
  constructor(@Inject(WitnessService) private readonly witness: WitnessService) {}

  @Post('add-checkpoint')
  @ApiOperation({
    operationId: 'addCheckpoint',
    summary: 'C2SP tlog-witness: cosign a checkpoint consistent with the one last cosigned',
  })
  async addCheckpoint(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const body = req.body;
    if (!Buffer.isBuffer(body)) throw new VellumError('INVALID_ARGUMENT', 'add-checkpoint needs a text body');
    const a = await this.witness.addCheckpoint(body);
    void reply.code(a.status).type(a.type).header('cache-control', 'no-store').send(a.body);
  }

  @Get('witness/vkey')
  @ApiOperation({ operationId: 'getWitnessVkey', summary: "This witness's cosignature/v1 verifier key" })
  getVkey(@Res() reply: FastifyReply): void {
    void reply.code(200).type('text/plain; charset=utf-8').send(`${this.witness.vkey}\n`);
  }
}
