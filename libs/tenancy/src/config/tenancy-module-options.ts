import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency, Provider, Type } from '@nestjs/common';
import type { TenancyModuleOptions } from './tenancy-options';

/**
 * How the module is registered, known before any option is computed (so these are not part of
 * what a `useFactory` returns). Given to `forRoot` beside the options, or to `forRootAsync`.
 */
export interface TenancyModuleRegistration {
  /**
   * Whether the module's providers (TenancyService, TenantDataSource, the lifecycle services, ...)
   * can be injected in every module without importing TenancyModule there. Default true. With
   * false, only modules that import the `TenancyModule.forRoot*` module (or a module re-exporting
   * it) can inject them; `TenancyModule.forFeature` works either way.
   */
  isGlobal?: boolean;
  /**
   * Who sets up nestjs-cls, whose async context carries the tenant and its unit of work:
   * - `'own'` (default): the module calls `ClsModule.forRoot({ global: true, middleware: { mount: false,
   *   resolveProxyProviders: false } })` itself and runs nestjs-cls's (run-based) middleware before
   *   tenant resolution. Use it when the app does not use nestjs-cls itself (nor its proxy providers,
   *   which nestjs-cls resolves with a module lookup on every request).
   * - `'app'`: the app has already called `ClsModule.forRoot(...)` (or `forRootAsync`) with its own
   *   options and mounts nestjs-cls's middleware on every route (`middleware: { mount: true }`);
   *   the module neither configures nestjs-cls nor mounts its middleware again, and tenant
   *   resolution runs inside the app's context (values the app's `setup` puts there stay
   *   visible). When tenant resolution runs first (Nest sets up a global module's middleware
   *   before the app's, whatever the order of `imports`), it opens the context and the app's
   *   middleware, running nested, inherits it; without the app's middleware the request is still
   *   served, only the app's own `setup` does not run.
   */
  cls?: 'own' | 'app';
  /**
   * The injection token of a TypeORM DataSource of the app to use as the module's owner connection
   * on the control database (catalog, control tables, provisioning and migrations of the shared and
   * schema models), instead of a pool of its own: with `@nestjs/typeorm`, `getDataSourceToken()`
   * (the `DataSource` class) for `TypeOrmModule.forRoot*`'s default DataSource, or
   * `getDataSourceToken(name)` for a named one. It must be PostgreSQL, reach the database that
   * `directUrl` (default `databaseUrl`) names, as the same owner role, without a transaction pooler
   * (session advisory locks, DDL, COPY), with room for about 12 connections (`extra: { max: 12 }`).
   * Not yet initialized (`manualInitialization: true`), the module initializes it at start, so a
   * database that cannot be reached is a start-up error of the module's, not TypeOrmModule's retries;
   * the module never closes it (its provider does, at shutdown). `databaseUrl` stays required: every
   * other connection (runtime pools, other databases) is derived from it. Per-tenant pools stay the
   * module's own. Default: none (the module opens its own owner pool from `directUrl`).
   * @throws TenancyConfigError at start when the token names no DataSource, not a PostgreSQL one,
   * or one on another database or role.
   */
  ownerDataSource?: InjectionToken;
}

/** What `forRootAsync({ useClass })` or `useExisting` names: builds the module options. */
export interface TenancyOptionsFactory {
  createTenancyOptions(): TenancyModuleOptions | Promise<TenancyModuleOptions>;
}

/**
 * `TenancyModule.forRootAsync(...)`: the options computed when the app starts, from injected
 * providers. Exactly one of `useFactory`, `useClass` or `useExisting`.
 */
export interface TenancyModuleAsyncOptions extends TenancyModuleRegistration, Pick<ModuleMetadata, 'imports'> {
  /** Returns the options; its arguments are the providers named in `inject`, in order. */
  useFactory?: (...args: never[]) => TenancyModuleOptions | Promise<TenancyModuleOptions>;
  /** Providers passed to `useFactory`; they must be visible to the module (`imports`, global, `extraProviders`). */
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** A class the module instantiates (with its own dependencies injected) whose `createTenancyOptions()` gives the options. */
  useClass?: Type<TenancyOptionsFactory>;
  /** An existing provider (from `imports` or global) whose `createTenancyOptions()` gives the options. */
  useExisting?: InjectionToken;
  /**
   * More providers of the module itself: what `useFactory`, `useClass` or a custom tenant source
   * (`resolution.sources`) inject and nothing else provides. Default none.
   */
  extraProviders?: Provider[];
}
