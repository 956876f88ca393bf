import { applyDecorators, Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags, type ApiOperationOptions } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { SIGNING_CONFIG_MEDIA_TYPE } from '../../core/trust/signing-config';
import { TRUSTED_ROOT_MEDIA_TYPE } from '../../core/trust/trusted-root';
import { errorResponse } from '../api/openapi-schemas';
import { TrustService } from './trust.service';

/**
 * The documents change only when the operator changes the key, hostname or URL (a restart), so
 * caches may keep them a while; clients usually fetch them once and store them.
 */
const CACHEABLE = 'public, max-age=3600';

/** A GET route serving a trust document: the document, or 503 while the log cannot build it. */
const jsonDocumentRoute = (
  path: string,
  description: string,
  mediaType: string,
  operation: ApiOperationOptions,
) =>
  applyDecorators(
    Get(path),
    ApiOperation(operation),
    ApiResponse({
      status: 200,
      description: `${description} (protobuf-JSON, mediaType ${mediaType})`,
      schema: { type: 'object', properties: { mediaType: { type: 'string', enum: [mediaType] } } },
    }),
    ApiResponse({ status: 503, ...errorResponse }),
  );

function sendCacheable(reply: FastifyReply, type: string, body: string): void {
  void reply.code(200).type(type).header('cache-control', CACHEABLE).send(body);
}

const prettyJson = (doc: unknown): string => JSON.stringify(doc, null, 2) + '\n';

@ApiTags('trust')
@Controller()
export class TrustController {
  constructor(private readonly trust: TrustService) {}

  @jsonDocumentRoute('api/v1/trustedRoot', 'trusted root', TRUSTED_ROOT_MEDIA_TYPE, {
    operationId: 'getTrustedRoot',
    summary: 'A Sigstore TrustedRoot describing this log (both the Rekor v1 and the v2 face)',
    description:
      'Load it with cosign --trusted-root, sigstore-js TrustedRoot.fromJSON, or a policy controller. ' +
      'Same document as `vellum trust-root`.',
  })
  async getTrustedRoot(@Res() reply: FastifyReply): Promise<void> {
    sendCacheable(reply, 'application/json', prettyJson(await this.trust.trustedRoot()));
  }

  @jsonDocumentRoute('api/v1/signingConfig', 'signing config', SIGNING_CONFIG_MEDIA_TYPE, {
    operationId: 'getSigningConfig',
    summary: 'A Sigstore SigningConfig (v0.2) listing this log as Rekor v1 and v2 service',
    description: 'Load it with cosign --signing-config. Same document as `vellum signing-config`.',
  })
  async getSigningConfig(@Res() reply: FastifyReply): Promise<void> {
    sendCacheable(reply, 'application/json', prettyJson(await this.trust.signingConfig()));
  }

  @Get('checkpoint.vkeys')
  @ApiOperation({
    operationId: 'getCheckpointVerifierKeys',
    summary: 'C2SP verifier keys of the checkpoints served at /checkpoint, one per line',
    description:
      'Each line is <name>+<key ID hex>+<base64(type || key)> (C2SP signed-note). An ECDSA log lists ' +
      'its 0x02 key (the Rekor-style line) and its Ed25519 note key (0x01); an Ed25519 log lists its ' +
      'key as 0x01.',
  })
  @ApiProduces('text/plain; charset=utf-8')
  @ApiResponse({ status: 200, description: 'verifier keys', schema: { type: 'string' } })
  getVerifierKeys(@Res() reply: FastifyReply): void {
    sendCacheable(reply, 'text/plain; charset=utf-8', this.trust.vkeys());
  }
}
