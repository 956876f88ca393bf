import { Module } from '@nestjs/common';
import { EntriesModule } from '../entries/entries.module';
import { LogModule } from '../log/log.module';
import { TilesModule } from '../tiles/tiles.module';
import { TrustModule } from '../trust/trust.module';
import { V2Module } from '../v2/v2.module';
import { IndexController } from './index.controller';
import { LogController } from './log.controller';
import { OpsController } from './ops.controller';

@Module({
  imports: [LogModule, EntriesModule, TilesModule, TrustModule, V2Module],
  controllers: [LogController, IndexController, OpsController],
})
export class ApiModule {}
