import { Module } from '@nestjs/common';
import { LogModule } from '../log/log.module';
import { WRITE_PATH } from '../write-path/write-path';
import { BullWritePath } from './bull-write-path';

/**
 * WRITE_PATH over BullMQ on Redis, for processes that take submissions while the sequencer may
 * run elsewhere (REDIS_URL set). No sequencer code and no private key: an API replica loads this.
 * Needs StorageModule and IdentityModule.
 */
@Module({
  imports: [LogModule],
  providers: [BullWritePath, { provide: WRITE_PATH, useExisting: BullWritePath }],
  exports: [WRITE_PATH],
})
export class QueueModule {}
