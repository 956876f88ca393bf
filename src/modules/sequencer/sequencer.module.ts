import { Module } from '@nestjs/common';
import { LogModule } from '../log/log.module';
import { SignerModule } from '../signer/signer.module';
import { LogWriter } from './log-writer.service';
import { SEQUENCER_OPTIONS, type SequencerOptions } from './sequencer.options';

/**
 * The write path: queue, batcher, sequencer (holds the lease and, through SignerModule, the
 * private key) and, with REDIS_URL, the BullMQ hand-off between API and sequencer processes
 * (what runs depends on ROLE; see LogWriter). Needs StorageModule. Override SEQUENCER_OPTIONS in
 * tests for clocks, lease timing and faults.
 */
@Module({
  imports: [SignerModule, LogModule],
  providers: [LogWriter, { provide: SEQUENCER_OPTIONS, useValue: {} satisfies SequencerOptions }],
  exports: [LogWriter],
})
export class SequencerModule {}
