import { type DynamicModule, Module } from '@nestjs/common';
import { OpsController } from '../api/ops.controller';
import type { VellumConfig } from '../config/config';
import { LogModule } from '../log/log.module';
import { SequencerModule } from '../sequencer/sequencer.module';

/**
 * The operational routes (/health, /ready, /metrics, /ping) for roles that serve no Rekor API
 * (ROLE=sequencer, monitor): the same OpsController the API serves them with, without the
 * verification pool or the entry routes. A sequencer also gets its write path here.
 */
@Module({})
export class OpsOnlyModule {
  static forRole(config: VellumConfig): DynamicModule {
    const imports: DynamicModule['imports'] = [LogModule];
    if (config.role === 'sequencer') imports.push(SequencerModule);
    return { module: OpsOnlyModule, imports, controllers: [OpsController] };
  }
}
