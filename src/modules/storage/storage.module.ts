import { type DynamicModule, Global, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { VELLUM_CONFIG, type VellumConfig } from '../config/config';
import { VellumDatabase, dataSourceOptions, prepareDirectories, runMigrationsLocked } from './database';
import { type MigrationClass, collectMigrations } from './migrations';

/**
 * The database: a TypeORM DataSource (SQLite file under DATA_DIR by default, PostgreSQL with
 * DATABASE_URL), migrated on boot, wrapped by VellumDatabase for reads and transactions.
 * Global, so every module can inject VellumDatabase or TypeORM's DataSource.
 *
 * `migrations`: the tables of the modules this process loads, registered by them through the
 * role table (storage never imports the modules that use it); storage's own always run.
 */
@Global()
@Module({})
export class StorageModule {
  static forRoot(options: { readonly migrations?: readonly MigrationClass[] } = {}): DynamicModule {
    const migrations = collectMigrations(options.migrations);
    return {
      module: StorageModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [VELLUM_CONFIG],
          useFactory: (config: VellumConfig) => {
            // DATA_DIR (mode 0700: the generated signing key lives there) and the SQLite file's
            // directory must exist before the DataSource opens the file.
            prepareDirectories(config);
            return {
              ...dataSourceOptions(config, migrations),
              autoLoadEntities: true,
              // SQLite failures (bad path, corrupt file, failed migration) do not heal by waiting;
              // a PostgreSQL server may still be starting next to us.
              retryAttempts: config.database.type === 'postgres' ? 5 : 1,
              retryDelay: 2000,
              toRetry: () => config.database.type === 'postgres',
            };
          },
          dataSourceFactory: async (options?: DataSourceOptions) => {
            if (options === undefined) throw new Error('no DataSource options');
            const ds = new DataSource(options);
            await ds.initialize();
            if (options.type === 'postgres') {
              try {
                await runMigrationsLocked(ds);
              } catch (e) {
                await ds.destroy().catch(() => undefined);
                throw e;
              }
            }
            const db = options.type === 'postgres' ? 'PostgreSQL' : `SQLite ${String(options.database)}`;
            new Logger('Storage').log(`database ready (${db}), migrations applied`);
            return ds;
          },
        }),
      ],
      providers: [
        {
          provide: VellumDatabase,
          inject: [DataSource, VELLUM_CONFIG],
          useFactory: (ds: DataSource, config: VellumConfig) => VellumDatabase.open(ds, config),
        },
      ],
      exports: [VellumDatabase, TypeOrmModule],
    };
  }
}
