import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenancyConfigError } from '../errors/tenancy.errors';
import { databaseOf, withDatabase } from '../core/connection-url';
import { PG_DRIVER } from './runtime-data-source';
import { errorMessage } from '../core/error-message';

/**
 * Owner connections: migrations, DDL and provisioning, never a request's queries. One small pool on
 * the control database; short-lived ones for each server's maintenance database and tenant database.
 * On the default server they use the direct URL (`directUrl`, never a transaction pooler): session
 * advisory locks, COPY and DDL need a session of their own. Runtime pools use `serverUrl`.
 */
@Injectable()
export class OwnerConnections implements OnApplicationShutdown {
  private readonly logger = new Logger('Tenancy');
  private control?: Promise<DataSource>;

  constructor(@Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions) {}

  /** The owner pool on the control database (also home of the shared and schema models). */
  controlDataSource(): Promise<DataSource> {
    // Lifecycle locks hold one connection each while their work takes others: room for both.
    this.control ??= open(this.options.directUrl, 12, 'nest-tenancy:owner').catch((err) => {
      this.control = undefined;
      throw err;
    });
    return this.control;
  }

  serverNames(): string[] {
    return Object.keys(this.options.servers);
  }

  serverUrl(server: string): string {
    const url = this.options.servers[server];
    if (!url) {
      throw new TenancyConfigError('servers', [`unknown server "${server}"; known servers: ${this.serverNames().join(', ')}`]);
    }
    return url;
  }

  /** The URL owner connections use for `server`: the direct URL for `default`. */
  directServerUrl(server: string): string {
    return server === 'default' ? this.options.directUrl : this.serverUrl(server);
  }

  /** The database the server's URL names: where the catalog lives on `default`, maintenance elsewhere. */
  homeDatabase(server = 'default'): string {
    return databaseOf(this.serverUrl(server));
  }

  /** Runs `fn` with an owner DataSource on `database` of `server`, reusing the control pool where it is that. */
  async withDatabase<T>(server: string, database: string, fn: (ds: DataSource) => Promise<T>): Promise<T> {
    const { dataSource, close } = await this.open(server, database);
    try {
      return await fn(dataSource);
    } finally {
      await close().catch((err) => this.logger.warn(`closing an owner connection failed: ${errorMessage(err)}`));
    }
  }

  /**
   * An owner DataSource on `database` of `server` held until `close` (the control pool is shared
   * and not closed): for work that outlives one callback, such as a streamed export.
   */
  async open(server: string, database: string): Promise<{ dataSource: DataSource; close(): Promise<void> }> {
    if (server === 'default' && database === this.homeDatabase()) {
      return { dataSource: await this.controlDataSource(), close: async () => undefined };
    }
    const ds = await open(withDatabase(this.directServerUrl(server), database), 2, 'nest-tenancy:owner');
    return { dataSource: ds, close: () => ds.destroy() };
  }

  async onApplicationShutdown(): Promise<void> {
    const control = this.control;
    this.control = undefined;
    if (control) await (await control.catch(() => undefined))?.destroy();
  }
}

async function open(url: string, max: number, applicationName: string): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    ...PG_DRIVER,
    url,
    applicationName,
    installExtensions: false,
    extra: { max, idleTimeoutMillis: 5_000 },
  });
  return ds.initialize();
}
