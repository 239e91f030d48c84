import type { INestApplication, LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { MigrationInterface } from 'typeorm';
import { type TenantDefinition, type TierDefinition, type UnitPrices } from '../../libs/tenancy/src';
import { TENANCY_OPTIONS, type ResolvedTenancyOptions } from '../../libs/tenancy/src/config/tenancy-options';
import { TenantNaming } from '../../libs/tenancy/src/catalog/tenant-naming';
import { Deployment } from '../../libs/tenancy/src/catalog/deployment';
import { testServerUrl, uniqueSuffix, urlFor, withOwnerClient } from './test-database';
import { initForRequests } from './nest-app';
import type { AppBuilder } from '../../src/app.factory';

export interface TestAppOptions {
  /** The tenants of the suite's tenants file (ignored with `join`: the joined app's file is used). */
  tenants?: TenantDefinition[];
  tiers?: Record<string, TierDefinition>;
  /** The tenants file's `prices` (unit prices of the cost estimate). Default: none (the library's defaults). */
  prices?: Partial<UnitPrices>;
  /** Extra environment for the app (e.g. JWT_SECRET). */
  env?: Record<string, string>;
  /** Tenant migrations in place of the service's own (for example the service's plus one more). */
  migrations?: (new () => MigrationInterface)[];
  /**
   * Start another instance of the service on the control database of `join` (same runtime role,
   * database prefix and tenants file), as a second replica would run. Its `close` closes only this
   * instance; the first app still drops everything.
   */
  join?: TestApp;
  /** Leave the runtime role to its default (`tenancy_app_<deployment key>`) instead of a suite-unique name. */
  defaultRole?: boolean;
  /**
   * With TEST_POOLER_URL set (npm run test:pooler), requests go through the pooler and session work
   * (the catalog listener, owner connections) straight to PostgreSQL. `'both'`: the direct URL goes
   * through the pooler too, so this instance's LISTEN cannot hear (an instance with a stale catalog).
   */
  pooler?: 'requests' | 'both';
  /** The app's JSON log lines go here (at LOG_LEVEL, default info) instead of nowhere. */
  logDestination?: { write(line: string): unknown };
}

export interface TestApp {
  app: INestApplication;
  /** The app's HTTP server, for supertest. */
  http: any;
  /** Owner connection URL of the suite's control database. */
  databaseUrl: string;
  controlDatabase: string;
  runtimeRole: string;
  databasePrefix: string;
  /** What every tenant database of the app is named with: `<databasePrefix><deployment key>_`. */
  databaseStem: string;
  /** The comment that marks a database, schema or role as the app's deployment's own. */
  deploymentMark: string;
  /** The suite's tenants file (TENANCY_CONFIG). */
  tenantsFile: string;
  /** The environment another process needs to run the service on the same databases. */
  serviceEnv: Record<string, string>;
  close(): Promise<void>;
}

export const DEFAULT_TIERS: Record<string, TierDefinition> = {
  free: { strategy: 'shared' },
  pro: { strategy: 'schema' },
  enterprise: { strategy: 'database', pool: { max: 3 } },
};

/**
 * Starts the reference service exactly as `npm start` wires it, on a fresh control database of the
 * test server, with a runtime role and tenant-database prefix of its own, so suites running in
 * parallel on one server never meet. `close` drops everything it created.
 */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const joined = options.join;
  const suffix = uniqueSuffix();
  const controlDatabase = joined?.controlDatabase ?? `nt_${suffix}`;
  const runtimeRole = joined?.runtimeRole ?? `nt_app_${suffix}`;
  const databasePrefix = joined?.databasePrefix ?? options.env?.TENANCY_DATABASE_PREFIX ?? `nt${suffix}_`;
  let dir: string | undefined;
  let tenantsFile: string;
  if (joined) {
    tenantsFile = joined.tenantsFile;
  } else {
    await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${controlDatabase}"`));
    dir = mkdtempSync(join(tmpdir(), 'nt-config-'));
    tenantsFile = join(dir, 'tenants.yaml');
    const prices = options.prices ? { prices: options.prices } : {};
    writeFileSync(tenantsFile, stringify({ tiers: options.tiers ?? DEFAULT_TIERS, tenants: options.tenants ?? [], ...prices }));
  }
  const databaseUrl = urlFor(controlDatabase);
  const poolerUrl = poolerServerUrl();
  const through = options.pooler ?? (poolerUrl ? 'requests' : undefined);
  if (through && !poolerUrl) throw new Error('TEST_POOLER_URL is not set: run this suite with `npm run test:pooler`.');
  const serviceEnv: Record<string, string> = {
    ...joined?.serviceEnv,
    DATABASE_URL: through ? urlFor(controlDatabase, poolerUrl) : databaseUrl,
    DATABASE_DIRECT_URL: through === 'both' ? urlFor(controlDatabase, poolerUrl) : databaseUrl,
    TENANCY_CONFIG: tenantsFile,
    TENANCY_RUNTIME_ROLE: runtimeRole,
    TENANCY_DATABASE_PREFIX: databasePrefix,
    ...options.env,
  };
  if (options.defaultRole) {
    delete serviceEnv.TENANCY_RUNTIME_ROLE;
    delete process.env.TENANCY_RUNTIME_ROLE;
  }
  Object.assign(process.env, serviceEnv);
  const { createApp } = await import('../../src/app.factory.js');
  const app = await createApp({
    ...(options.logDestination
      ? { logDestination: options.logDestination }
      : { logger: process.env.TEST_LOG ? ['error', 'warn', 'log'] : false }),
    build: fromTestingModule,
  });
  if (options.migrations) {
    // Providers exist once the app is created, and nothing reads the migration set before init.
    (app.get(TENANCY_OPTIONS) as ResolvedTenancyOptions).migrations = options.migrations;
  }
  try {
    await initForRequests(app);
  } catch (err) {
    // A start that fails (the case some suites test) still leaves nothing behind.
    await app.close().catch(() => undefined);
    if (!joined) {
      if (dir) rmSync(dir, { recursive: true, force: true });
      await dropEverything(controlDatabase, databasePrefix, runtimeRole);
    }
    throw err;
  }
  const resolvedRole = (app.get(TENANCY_OPTIONS) as ResolvedTenancyOptions).runtimeRole;
  return {
    app,
    http: app.getHttpServer(),
    databaseUrl,
    controlDatabase,
    runtimeRole: resolvedRole,
    databasePrefix,
    databaseStem: app.get(TenantNaming).databaseStem,
    deploymentMark: app.get(Deployment).mark,
    tenantsFile,
    serviceEnv,
    close: async () => {
      await app.close();
      if (joined) return;
      if (dir) rmSync(dir, { recursive: true, force: true });
      await dropEverything(controlDatabase, databasePrefix, resolvedRole);
    },
  };
}

const SILENT: LoggerService = { log: () => undefined, error: () => undefined, warn: () => undefined };

/**
 * The service's AppModule compiled as a testing module (`Test.createTestingModule`), then made an
 * application on the adapter the service uses (createApp passes it).
 */
const fromTestingModule: AppBuilder = async (module, adapter, options) => {
  const logger = options.logger;
  const moduleRef = await Test.createTestingModule({ imports: [module] })
    // The app's logger for the compile too (by default a testing module prints its errors).
    .setLogger(logger && !Array.isArray(logger) ? logger : SILENT)
    .compile();
  return adapter ? moduleRef.createNestApplication(adapter, options) : moduleRef.createNestApplication(options);
};

/** The PgBouncer (transaction mode) in front of the test server, when `npm run test:pooler` runs. */
export function poolerServerUrl(): string | undefined {
  return process.env.TEST_POOLER_URL || undefined;
}

/** Drops a suite's control database, every database with its prefix, and its runtime role. */
export async function dropEverything(controlDatabase: string, prefix: string, role: string): Promise<void> {
  await withOwnerClient(undefined, async (c) => {
    const { rows } = await c.query(`SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)`, [
      controlDatabase,
      prefix,
    ]);
    for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS "${role}"`);
  });
}

export { testServerUrl };
