import { type DynamicModule, Global, Module, type Type } from '@nestjs/common';

/**
 * Makes WRITE_PATH injectable everywhere, from whichever module the role table chose to answer
 * it (the embedded sequencer's or BullMQ's). The HTTP faces import neither.
 */
@Global()
@Module({})
export class WritePathModule {
  static forRoot(implementation: Type<unknown>): DynamicModule {
    return { module: WritePathModule, imports: [implementation], exports: [implementation] };
  }
}
