import { Module } from '@nestjs/common';
import { SignerModule } from '../signer/signer.module';
import { WRITE_PATH } from '../write-path/write-path';
import { InProcessWritePath } from './in-process-write-path';
import { SequencerService } from './sequencer.service';
import { SEQUENCER_OPTIONS, type SequencerOptions } from './sequencer.options';

/**
 * The sequencer: lease, batcher, sequencer, and through SignerModule the private key; with
 * REDIS_URL also the BullMQ consumer loop. Loaded only by signing roles (see src/roles.ts).
 * Needs StorageModule and IdentityModule.forRoot(SigningKeyModule). Override SEQUENCER_OPTIONS in
 * tests for clocks, lease timing and faults.
 */
@Module({
  imports: [SignerModule],
  providers: [SequencerService, { provide: SEQUENCER_OPTIONS, useValue: {} satisfies SequencerOptions }],
  exports: [SequencerService],
})
export class SequencerModule {}

/** WRITE_PATH answered by this process's sequencer: the embedded default (no REDIS_URL). */
@Module({
  imports: [SequencerModule],
  providers: [InProcessWritePath, { provide: WRITE_PATH, useExisting: InProcessWritePath }],
  exports: [WRITE_PATH],
})
export class InProcessWritePathModule {}
