import { Module } from '@nestjs/common';
import { SignerModule } from '../signer/signer.module';
import { TrustController } from './trust.controller';
import { TrustService } from './trust.service';

/** Trust files (TrustedRoot, SigningConfig) and checkpoint verifier keys; public facts only. */
@Module({
  imports: [SignerModule],
  providers: [TrustService],
  controllers: [TrustController],
})
export class TrustModule {}
