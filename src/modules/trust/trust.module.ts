import { Module } from '@nestjs/common';
import { TrustController } from './trust.controller';
import { TrustService } from './trust.service';

/**
 * Trust files (TrustedRoot, SigningConfig) and checkpoint verifier keys; public facts only, from
 * the global IdentityModule.
 */
@Module({
  providers: [TrustService],
  controllers: [TrustController],
})
export class TrustModule {}
