import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createHash } from 'node:crypto';
import { VellumError } from '../../core/errors';
import { canonicalVerifierPem } from '../../core/x509';
import { LogReader } from '../log/log-reader.service';
import { LogIdentity } from '../identity/log-identity';
import { errorResponse, ref, UUID_PATTERN } from './openapi-schemas';
import { parseSearchIndexQuery } from './search-index-query';

/** Rekor's util.PrefixSHA: a bare digest gets its algorithm prefix from its length. */
function prefixSha(h: string): string {
  if (h.includes(':')) return h;
  switch (h.length) {
    case 40:
      return `sha1:${h}`;
    case 64:
      return `sha256:${h}`;
    case 96:
      return `sha384:${h}`;
    case 128:
      return `sha512:${h}`;
    default:
      return h;
  }
}

/**
 * The index key of an x509 public key or certificate (chain): hex SHA-256 of its canonical PEM,
 * i.e. the Go `pem.Encode` re-encoding Rekor stores in hashedrekord bodies, read by the same
 * parser that verified the entries (core/x509).
 */
function x509KeyHash(content: Buffer): string {
  let canonical: string;
  try {
    canonical = canonicalVerifierPem(content);
  } catch {
    throw new VellumError('INVALID_ARGUMENT', 'public key provided could not be parsed');
  }
  return createHash('sha256').update(canonical).digest('hex');
}

@ApiTags('index')
@Controller('api/v1/index')
export class IndexController {
  constructor(
    private readonly reader: LogReader,
    private readonly identity: LogIdentity,
  ) {}

  @Post('retrieve')
  @ApiOperation({
    operationId: 'searchIndex',
    summary: 'Searches index by entry metadata',
    description: 'Deprecated in Rekor and best-effort here too: the index may be incomplete.',
    deprecated: true,
  })
  @ApiBody({ schema: ref('SearchIndex'), required: true })
  @ApiResponse({
    status: 200,
    description: 'EntryIDs of matching entries, unordered',
    schema: { type: 'array', items: { type: 'string', pattern: UUID_PATTERN } },
  })
  @ApiResponse({ status: 400, ...errorResponse })
  @ApiResponse({ status: 422, ...errorResponse })
  async searchIndex(@Body() body: unknown, @Res() reply: FastifyReply): Promise<void> {
    const q = parseSearchIndexQuery(body);
    const keys: string[] = [];
    if (q.email !== undefined) keys.push(q.email.toLowerCase());
    if (q.subject !== undefined) keys.push(q.subject.toLowerCase());
    if (q.hash !== undefined) keys.push(prefixSha(q.hash).toLowerCase());
    if (q.publicKey !== undefined) {
      if (q.publicKey.format !== 'x509') {
        throw new VellumError('INVALID_ARGUMENT', 'the PKI format requested is not supported by this server');
      }
      if (q.publicKey.content === undefined || q.publicKey.content.length === 0) {
        throw new VellumError('INVALID_ARGUMENT', 'public key provided could not be parsed');
      }
      keys.push(x509KeyHash(q.publicKey.content));
    }
    const leafHashes = keys.length === 0 ? [] : await this.reader.search(keys, q.operator);
    const ids = leafHashes.map((h) => this.identity.entryId(h));
    void reply.code(200).type('application/json').send(JSON.stringify(ids));
  }
}
