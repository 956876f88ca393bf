import { Module } from '@nestjs/common';
import { EntriesModule } from '../entries/entries.module';
import { V2EntriesController } from './v2-entries.controller';

/** The Rekor v2 write face; loaded wherever the v1 API is (ApiModule). */
@Module({
  imports: [EntriesModule],
  controllers: [V2EntriesController],
})
export class V2Module {}
