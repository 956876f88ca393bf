import { Module } from '@nestjs/common';
import { SignerModule } from '../signer/signer.module';
import { LogWriter } from './log-writer.service';
import { SEQUENCER_OPTIONS, type SequencerOptions } from './sequencer.options';

/**
 * The write path: queue, batcher, sequencer (holds the lease and, through SignerModule, the
 * private key). Needs StorageModule. Override SEQUENCER_OPTIONS in tests for clocks and faults.
 */
@Module({
  imports: [SignerModule],
  providers: [LogWriter, { provide: SEQUENCER_OPTIONS, useValue: {} satisfies SequencerOptions }],
  exports: [LogWriter],
})
export class SequencerModule {}
