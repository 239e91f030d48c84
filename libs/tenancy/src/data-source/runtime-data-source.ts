import { DataSource } from 'typeorm';

export interface RuntimePoolOptions {
  max: number;
  idleTimeoutMillis: number;
  /**
   * A backend caches every relation it has touched (about 5 KB each); under the schema model a
   * long-lived connection would end up caching every tenant's tables. Recycling connections keeps
   * memory flat however many tenants a pool serves.
   */
  maxLifetimeSeconds: number;
}

/** A TypeORM DataSource signed in as the runtime role; it never synchronizes or migrates. */
export function createRuntimeDataSource(url: string, entities: Function[], pool: RuntimePoolOptions, applicationName: string): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities,
    synchronize: false,
    migrationsRun: false,
    installExtensions: false,
    applicationName,
    extra: {
      max: pool.max,
      idleTimeoutMillis: pool.idleTimeoutMillis,
      maxLifetimeSeconds: pool.maxLifetimeSeconds,
    },
  });
}

/** A DataSource handed out for one unit of work; `release` lets the registry evict it later. */
export interface DataSourceLease {
  readonly dataSource: DataSource;
  release(): void;
}
