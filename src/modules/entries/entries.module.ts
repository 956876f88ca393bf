import { Module } from '@nestjs/common';
import { LogModule } from '../log/log.module';
import { EntriesController } from './entries.controller';
import { EntryViews } from './entry-views';
import { VerifyPool } from './verify-pool';

@Module({
  imports: [LogModule],
  controllers: [EntriesController],
  providers: [VerifyPool, EntryViews],
  exports: [VerifyPool, EntryViews],
})
export class EntriesModule {}
