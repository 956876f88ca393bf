import { Module } from '@nestjs/common';
import { OpsController } from '../api/ops.controller';
import { LogModule } from '../log/log.module';

/**
 * The operational routes (/health, /ready, /metrics, /ping) for roles that serve no Rekor API
 * (ROLE=sequencer, monitor): the same OpsController the API serves them with, without the
 * verification pool or the entry routes.
 */
@Module({ imports: [LogModule], controllers: [OpsController] })
export class OpsOnlyModule {}
