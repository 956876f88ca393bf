import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { LogSigningKey } from '../../core/keys';
import { MAX_ADD_CHECKPOINT_BYTES } from '../../core/witness/add-checkpoint';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import { loadOrCreateKeyFile } from '../signer/signing-key';
import { WitnessController } from './witness.controller';
import { loadWitnessConfig, WITNESS_CONFIG, type WitnessConfig } from './witness.config';
import { WitnessService } from './witness.service';
import { WitnessStateRepository } from './witness-state.repository';

/**
 * ROLE=witness: POST /add-checkpoint and GET /witness/vkey. add-checkpoint bodies are text, which
 * the server's JSON-only parser would refuse (415); this role serves no JSON body route, so its
 * parser takes any body as bytes, bounded like the core parser.
 */
@Module({
  controllers: [WitnessController],
  providers: [
    {
      provide: WITNESS_CONFIG,
      inject: [VELLUM_CONFIG],
      useFactory: (config: VellumConfig) => loadWitnessConfig(config),
    },
    {
      provide: LogSigningKey,
      inject: [WITNESS_CONFIG],
      useFactory: (w: WitnessConfig) =>
        loadOrCreateKeyFile({
          variable: 'WITNESS_KEY_PATH',
          path: w.keyPath,
          explicit: w.keyExplicit,
          what: 'witness key',
          generate: 'ed25519',
          accepts: ['ed25519'],
        }).key,
    },
    WitnessStateRepository,
    WitnessService,
  ],
})
export class WitnessModule implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter?.getInstance() as FastifyInstance | undefined;
    if (fastify === undefined) return;
    fastify.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: MAX_ADD_CHECKPOINT_BYTES },
      (_req, body, done) => done(null, body),
    );
  }
}
