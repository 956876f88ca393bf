import { DynamicModule, Global, Module } from '@nestjs/common';
import { loadConfig, VELLUM_CONFIG, VellumConfig } from './config';

/**
 * Makes the one frozen VellumConfig injectable everywhere under VELLUM_CONFIG.
 * The CLI parses the environment itself (so a ConfigError is reported before Nest starts) and
 * passes the result in; loadConfig() is only the fallback for callers that did not.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config?: VellumConfig): DynamicModule {
    const value = Object.isFrozen(config) ? config : Object.freeze({ ...(config ?? loadConfig()) });
    return {
      module: ConfigModule,
      providers: [{ provide: VELLUM_CONFIG, useValue: value }],
      exports: [VELLUM_CONFIG],
    };
  }
}
