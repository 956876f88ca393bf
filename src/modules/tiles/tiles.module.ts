import { Module } from '@nestjs/common';
import { LogModule } from '../log/log.module';
import { TileReader } from './tile-reader.service';
import { TilesController } from './tiles.controller';

/** C2SP tlog-tiles reads (`/checkpoint`, `/tile/...`); needs only the database, like every read. */
@Module({
  imports: [LogModule],
  providers: [TileReader],
  controllers: [TilesController],
})
export class TilesModule {}
