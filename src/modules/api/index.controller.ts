import { Body, Controller, Post, Res } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createHash } from 'node:crypto';
import { isBase64Strict } from '../../core/encoding';
import { VellumError } from '../../core/errors';
import { canonicalVerifierPem } from '../../core/x509';
import { schemaError } from '../http/http-error';
import { LogReader } from '../log/log-reader.service';
import { LogIdentity } from '../identity/log-identity';
import { errorResponse, ref } from './openapi-schemas';

const HASH_PATTERN = '^(sha512:)?[0-9a-fA-F]{128}$|^(sha256:)?[0-9a-fA-F]{64}$|^(sha1:)?[0-9a-fA-F]{40}$';
const HASH_RE = new RegExp(HASH_PATTERN);
const FORMATS = ['pgp', 'x509', 'minisign', 'ssh', 'tuf'];
// go-openapi's "email" format is permissive (net/mail); this only rules out obvious non-addresses.
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

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
    schema: { type: 'array', items: { type: 'string' } },
  })
  @ApiResponse({ status: 400, ...errorResponse })
  @ApiResponse({ status: 422, ...errorResponse })
  async searchIndex(@Body() query: unknown, @Res() reply: FastifyReply): Promise<void> {
    if (query === undefined) throw schemaError(602, 'query in body is required');
    if (typeof query !== 'object' || query === null || Array.isArray(query)) {
      throw schemaError(601, 'query in body must be of type object');
    }
    const q = query as Record<string, unknown>;
    const keys: string[] = [];

    const str = (name: string): string | undefined => {
      const v = q[name];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string')
        throw schemaError(601, `${name} in body must be of type string: ${JSON.stringify(typeof v)}`);
      return v;
    };

    const operator = str('operator') ?? 'or';
    if (operator !== 'and' && operator !== 'or')
      throw schemaError(606, 'operator in body should be one of [and or]');

    const email = str('email');
    if (email !== undefined) {
      if (!EMAIL_RE.test(email))
        throw schemaError(601, `email in body must be of type email: ${JSON.stringify(email)}`);
      keys.push(email.toLowerCase());
    }
    const subject = str('subject');
    if (subject !== undefined) {
      if (subject.length < 1) throw schemaError(604, 'subject in body should be at least 1 chars long');
      if (subject.length > 512) throw schemaError(603, 'subject in body should be at most 512 chars long');
      keys.push(subject.toLowerCase());
    }
    const hash = str('hash');
    if (hash !== undefined && hash !== '') {
      if (!HASH_RE.test(hash)) throw schemaError(605, `hash in body should match '${HASH_PATTERN}'`);
      keys.push(prefixSha(hash).toLowerCase());
    }
    const pk = q.publicKey;
    if (pk !== undefined && pk !== null) {
      if (typeof pk !== 'object' || Array.isArray(pk))
        throw schemaError(601, 'publicKey in body must be of type object');
      const { format, content } = pk as Record<string, unknown>;
      if (format === undefined) throw schemaError(602, 'publicKey.format in body is required');
      if (typeof format !== 'string' || !FORMATS.includes(format)) {
        throw schemaError(606, `publicKey.format in body should be one of [${FORMATS.join(' ')}]`);
      }
      if (content !== undefined && (typeof content !== 'string' || !isBase64Strict(content))) {
        throw schemaError(601, 'publicKey.content in body must be of type byte');
      }
      if (format !== 'x509') {
        throw new VellumError('INVALID_ARGUMENT', 'the PKI format requested is not supported by this server');
      }
      if (typeof content !== 'string' || content === '') {
        throw new VellumError('INVALID_ARGUMENT', 'public key provided could not be parsed');
      }
      keys.push(x509KeyHash(Buffer.from(content, 'base64')));
    }

    const leafHashes = keys.length === 0 ? [] : await this.reader.search(keys, operator);
    const ids = leafHashes.map((h) => this.identity.entryId(h));
    void reply.code(200).type('application/json').send(JSON.stringify(ids));
  }
}
