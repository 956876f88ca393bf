import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { VellumError } from '../../core/errors';
import { LogReader } from '../log/log-reader.service';
import { LogIdentity } from '../identity/log-identity';
import { errorResponse, ref } from './openapi-schemas';
import { int64Query, parseTreeId, TREE_ID_PATTERN, treeIdQuery } from './rekor-params';

@ApiTags('tlog')
@Controller('api/v1/log')
export class LogController {
  constructor(
    private readonly reader: LogReader,
    private readonly identity: LogIdentity,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'getLogInfo',
    summary: 'Get information about the current state of the transparency log',
  })
  @ApiResponse({ status: 200, description: 'the latest signed checkpoint', schema: ref('LogInfo') })
  @ApiResponse({ status: 500, ...errorResponse })
  async getLogInfo(@Res() reply: FastifyReply): Promise<void> {
    const cp = await this.reader.latestCheckpoint();
    const body = {
      rootHash: cp.rootHash.toString('hex'),
      treeSize: cp.size,
      treeID: this.identity.treeId,
      signedTreeHead: cp.note,
    };
    void reply.code(200).type('application/json').send(JSON.stringify(body));
  }

  @Get('proof')
  @ApiOperation({
    operationId: 'getLogProof',
    summary: 'Get information required to generate a consistency proof for the transparency log',
    description: "As in Rekor, rootHash is the log's current root, whatever lastSize is.",
  })
  @ApiQuery({ name: 'treeID', required: false, schema: { type: 'string', pattern: TREE_ID_PATTERN } })
  @ApiQuery({ name: 'lastSize', required: true, schema: { type: 'integer', minimum: 1 } })
  @ApiQuery({
    name: 'firstSize',
    required: false,
    schema: { type: 'integer', minimum: 1, default: 1 },
  })
  @ApiResponse({ status: 200, description: 'consistency proof', schema: ref('ConsistencyProof') })
  @ApiResponse({ status: 400, ...errorResponse })
  @ApiResponse({ status: 422, ...errorResponse })
  async getLogProof(
    @Query('firstSize') firstRaw: unknown,
    @Query('lastSize') lastRaw: unknown,
    @Query('treeID') treeRaw: unknown,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    // Parameter validation (422) in Rekor's binding order, then the handler's own checks (400).
    const first = int64Query('firstSize', firstRaw, { min: 1, def: 1 });
    const last = int64Query('lastSize', lastRaw, { min: 1 });
    const treeId = treeIdQuery(treeRaw);
    if (first > last)
      throw new VellumError('INVALID_ARGUMENT', `firstSize(${first}) must be less than lastSize(${last})`);
    if (treeId !== undefined) {
      const id = parseTreeId(treeId);
      if (id === undefined) throw new VellumError('INVALID_ARGUMENT', `invalid tree ID specified: ${treeId}`);
      if (id.toString() !== this.identity.treeId)
        throw new VellumError('INVALID_ARGUMENT', `no log range found for tree ID ${id}`);
    }
    const cp = await this.reader.latestCheckpoint();
    if (last > cp.size) {
      throw new VellumError(
        'INVALID_ARGUMENT',
        `the tree size requested(${last}) was greater than what is currently observable(${cp.size})`,
      );
    }
    const proof = first === last ? [] : await this.reader.consistencyProof(first, last);
    const body = { rootHash: cp.rootHash.toString('hex'), hashes: proof.map((h) => h.toString('hex')) };
    void reply.code(200).type('application/json').send(JSON.stringify(body));
  }

  @Get('publicKey')
  @ApiOperation({
    operationId: 'getPublicKey',
    summary: 'Retrieve the public key that can be used to validate the signed tree head',
  })
  @ApiQuery({ name: 'treeID', required: false, schema: { type: 'string', pattern: TREE_ID_PATTERN } })
  @ApiResponse({
    status: 200,
    description: 'PKIX PEM public key',
    content: { 'application/x-pem-file': { schema: { type: 'string' } } },
  })
  @ApiResponse({ status: 400, ...errorResponse })
  @ApiResponse({ status: 422, ...errorResponse })
  getPublicKey(@Query('treeID') treeRaw: unknown, @Res() reply: FastifyReply): void {
    const treeId = treeIdQuery(treeRaw);
    // Rekor's handler answers an unparsable or unknown tree with the bare status text.
    if (treeId !== undefined && parseTreeId(treeId)?.toString() !== this.identity.treeId) {
      throw new VellumError('INVALID_ARGUMENT', 'Bad Request');
    }
    void reply.code(200).type('application/x-pem-file').send(this.identity.publicKey.pem);
  }
}
