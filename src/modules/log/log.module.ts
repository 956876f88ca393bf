import { Module } from '@nestjs/common';
import { LogReader } from './log-reader.service';

/** Reads of the committed log (entries, checkpoints, proofs, tiles, search). Needs StorageModule. */
@Module({
  providers: [LogReader],
  exports: [LogReader],
})
export class LogModule {}
