import { Inject, Injectable, InjectionToken, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenancyConfigError } from '../errors/tenancy.errors';
import { databaseOf, withDatabase } from '../core/connection-url';
import { PG_DRIVER } from './runtime-data-source';
import { errorMessage } from '../core/error-message';

/**
 * The token of the app's DataSource that serves as the owner pool on the control database (the
 * `ownerDataSource` of `TenancyModuleRegistration`), or null for the module's own pool.
 */
export const OWNER_DATA_SOURCE = Symbol('nest-tenancy:owner-data-source');

/**
 * Owner connections: migrations, DDL and provisioning, never a request's queries. One small pool on
 * the control database; short-lived ones for each server's maintenance database and tenant database.
 * On the default server they use the direct URL (`directUrl`, never a transaction pooler): session
 * advisory locks, COPY and DDL need a session of their own. Runtime pools use `serverUrl`.
 * With `ownerDataSource`, the app's DataSource (say, TypeOrmModule's) is the control pool instead of
 * one of the module's own; it is initialized here if it is not yet, and closed by its owner, not here.
 */
@Injectable()
export class OwnerConnections implements OnApplicationShutdown {
  private readonly logger = new Logger('Tenancy');
  private control?: Promise<DataSource>;

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    @Inject(OWNER_DATA_SOURCE) private readonly appOwnerToken: InjectionToken | null,
    private readonly moduleRef: ModuleRef,
  ) {}

  /** Whether the control pool is the app's DataSource (`ownerDataSource`) rather than the module's own. */
  get usesAppDataSource(): boolean {
    return this.appOwnerToken !== null;
  }

  /**
   * The owner pool on the control database (also home of the shared and schema models).
   * @throws TenancyConfigError when `ownerDataSource` names no DataSource, not a PostgreSQL one, or
   * one on another database or role than `directUrl` (default `databaseUrl`).
   */
  controlDataSource(): Promise<DataSource> {
    // Lifecycle locks hold one connection each while their work takes others: room for both.
    this.control ??= (this.appOwnerToken === null ? open(this.options.directUrl, 12, 'nest-tenancy:owner') : this.adopt()).catch((err) => {
      this.control = undefined;
      throw err;
    });
    return this.control;
  }

  /** The app's DataSource of `ownerDataSource`, checked, and initialized when it is not yet. */
  private async adopt(): Promise<DataSource> {
    const name = describeToken(this.appOwnerToken!);
    const problem = (text: string) => new TenancyConfigError('TenancyModule', [`ownerDataSource (${name}): ${text}`]);
    let ds: DataSource | undefined;
    try {
      ds = this.moduleRef.get<unknown, DataSource>(this.appOwnerToken!, { strict: false });
    } catch {
      // Nest's own error names the token as its internals see it: say what to do instead.
    }
    if (!ds || typeof ds.initialize !== 'function' || typeof ds.query !== 'function' || !ds.options) {
      throw problem(
        'no TypeORM DataSource is provided under this token; register TypeOrmModule.forRoot/forRootAsync (its DataSource is global) and give getDataSourceToken(<its name>)',
      );
    }
    if (ds.options.type !== 'postgres')
      throw problem(`it is a '${String(ds.options.type)}' DataSource; the owner connection must be PostgreSQL`);
    if (!ds.isInitialized) await ds.initialize();
    const [row] = await ds.query(`SELECT current_database() AS database, current_user AS role`);
    const url = new URL(this.options.directUrl);
    const role = decodeURIComponent(url.username);
    const database = databaseOf(this.options.directUrl);
    if (row.database !== database || (role && row.role !== role)) {
      throw problem(
        `it signs in to database "${row.database}" as "${row.role}", but directUrl (default databaseUrl) names database "${database}"${role ? ` as "${role}"` : ''}: point both at the control database as its owner (the module derives every other connection from the URL)`,
      );
    }
    return ds;
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
    // The app's DataSource is closed by whoever provides it (TypeOrmModule at its own shutdown).
    if (control && !this.usesAppDataSource) await (await control.catch(() => undefined))?.destroy();
  }
}

/** A token as a person wrote it: a class by its name, a symbol by its description, a string as is. */
function describeToken(token: InjectionToken): string {
  if (typeof token === 'function') return token.name;
  if (typeof token === 'symbol') return token.description ?? token.toString();
  return String(token);
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
