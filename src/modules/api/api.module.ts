import { Module } from '@nestjs/common';
import { EntriesModule } from '../entries/entries.module';
import { LogModule } from '../log/log.module';
import { TilesModule } from '../tiles/tiles.module';
import { IndexController } from './index.controller';
import { LogController } from './log.controller';
import { OpsController } from './ops.controller';

@Module({
  imports: [LogModule, EntriesModule, TilesModule],
  controllers: [LogController, IndexController, OpsController],
})
export class ApiModule {}
