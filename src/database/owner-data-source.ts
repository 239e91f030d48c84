import type { TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { AppConfig } from '../config/app.config';

/** How the owner DataSource's connections show in pg_stat_activity. */
export const OWNER_APPLICATION_NAME = 'nest-tenancy-reference:owner';

/**
 * The app's owner DataSource (TypeOrmModule), which TenancyModule uses as its owner connection
 * (`ownerDataSource`): one owner pool on the control database, not two. On the direct URL (session
 * work: advisory locks, DDL, COPY never go through a transaction pooler), room for the 12
 * connections the module's lifecycle locks and their work may hold at once. Initialized by
 * TenancyModule at start (`manualInitialization`), so a database that cannot be reached is the
 * module's start-up error, said in one line, rather than TypeOrmModule's retries.
 */
export function ownerDataSourceOptions(app: AppConfig): TypeOrmModuleOptions {
  return {
    type: 'postgres',
    url: app.directUrl ?? app.databaseUrl,
    applicationName: OWNER_APPLICATION_NAME,
    extra: { max: 12, idleTimeoutMillis: 5_000 },
    manualInitialization: true,
  };
}
