import { Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { RouteTable } from './route-table';
import { VellumExceptionFilter } from './vellum-exception.filter';

@Global()
@Module({
  providers: [RouteTable, { provide: APP_FILTER, useClass: VellumExceptionFilter }],
  exports: [RouteTable],
})
export class HttpModule {}
