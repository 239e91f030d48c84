import type { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TenantDefinition, TierDefinition } from '../../libs/tenancy/src';
import { testServerUrl, uniqueSuffix, urlFor, withOwnerClient } from './test-database';

export interface TestAppOptions {
  tenants: TenantDefinition[];
  tiers?: Record<string, TierDefinition>;
  /** Extra environment for the app (e.g. JWT_SECRET). */
  env?: Record<string, string>;
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
export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const suffix = uniqueSuffix();
  const controlDatabase = `nt_${suffix}`;
  const runtimeRole = `nt_app_${suffix}`;
  const databasePrefix = `nt${suffix}_`;
  await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${controlDatabase}"`));
  const dir = mkdtempSync(join(tmpdir(), 'nt-config-'));
  const tenantsFile = join(dir, 'tenants.yaml');
  writeFileSync(tenantsFile, stringify({ tiers: options.tiers ?? DEFAULT_TIERS, tenants: options.tenants }));
  const databaseUrl = urlFor(controlDatabase);
  Object.assign(process.env, {
    DATABASE_URL: databaseUrl,
    TENANCY_CONFIG: tenantsFile,
    TENANCY_RUNTIME_ROLE: runtimeRole,
    TENANCY_DATABASE_PREFIX: databasePrefix,
    ...options.env,
  });
  const { createApp } = await import('../../src/app.factory.js');
  const app = await createApp({ logger: process.env.TEST_LOG ? ['error', 'warn', 'log'] : false });
  await app.init();
  return {
    app,
    http: app.getHttpServer(),
    databaseUrl,
    controlDatabase,
    runtimeRole,
    databasePrefix,
    close: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
      await dropEverything(controlDatabase, databasePrefix, runtimeRole);
    },
  };
}

async function dropEverything(controlDatabase: string, prefix: string, role: string): Promise<void> {
  await withOwnerClient(undefined, async (c) => {
    const { rows } = await c.query(`SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)`, [controlDatabase, prefix]);
    for (const { datname } of rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS "${role}"`);
  });
}

export { testServerUrl };
