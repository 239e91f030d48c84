import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { TenantDefinition } from '../../libs/tenancy/src';
import { deriveDeploymentKey } from '../../libs/tenancy/src/config/tenancy-options';
import { DEFAULT_TIERS, dropEverything } from './test-app';
import { childProcessEnv, uniqueSuffix, urlFor, withOwnerClient } from './test-database';

/** The demo tenants of config/tenants.yaml: one per model. */
export const DEMO_TENANTS: TenantDefinition[] = [
  { id: 'acme', name: 'Acme', tier: 'enterprise' },
  { id: 'widget', name: 'Widget', tier: 'pro' },
  { id: 'gadget', name: 'Gadget', tier: 'free' },
];

/** What a suite needs to run the service or the CLI as processes on a database of its own. */
export interface ServiceRun {
  /** The environment of such a process: DATABASE_URL, TENANCY_CONFIG, TENANCY_DATABASE_PREFIX, NODE_ENV=test. */
  env: Record<string, string>;
  /** The tenants file (in a temporary folder of its own). */
  tenantsFile: string;
  /** Drops the databases and role the processes made, and the folder. */
  cleanup(): Promise<void>;
}

/** Creates a fresh control database and a tenants file of `tenants` for processes of the service. */
export async function prepareServiceRun(tenants: TenantDefinition[] = DEMO_TENANTS): Promise<ServiceRun> {
  const suffix = uniqueSuffix();
  const controlDatabase = `nt_${suffix}`;
  const prefix = `nt${suffix}_`;
  const dir = mkdtempSync(join(tmpdir(), 'nt-service-'));
  const tenantsFile = join(dir, 'tenants.yaml');
  await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${controlDatabase}"`));
  writeFileSync(tenantsFile, stringify({ tiers: DEFAULT_TIERS, tenants }));
  const env = childProcessEnv({
    DATABASE_URL: urlFor(controlDatabase),
    TENANCY_CONFIG: tenantsFile,
    TENANCY_DATABASE_PREFIX: prefix,
    NODE_ENV: 'test',
  });
  return {
    env,
    tenantsFile,
    cleanup: async () => {
      await dropEverything(controlDatabase, prefix, `tenancy_app_${deriveDeploymentKey(controlDatabase)}`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
