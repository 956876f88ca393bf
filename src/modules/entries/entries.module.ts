import { Module } from '@nestjs/common';
import { LogModule } from '../log/log.module';
import { SequencerModule } from '../sequencer/sequencer.module';
import { SignerModule } from '../signer/signer.module';
import { EntriesController } from './entries.controller';
import { EntryViews } from './entry-views';
import { VerifyPool } from './verify-pool';

@Module({
  imports: [LogModule, SequencerModule, SignerModule],
  controllers: [EntriesController],
  providers: [VerifyPool, EntryViews],
  exports: [VerifyPool, EntryViews],
})
export class EntriesModule {}
