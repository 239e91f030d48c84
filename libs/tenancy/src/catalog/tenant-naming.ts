import { Inject, Injectable } from '@nestjs/common';
import { DEPLOYMENT_KEY_PATTERN, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { databaseOf } from '../core/connection-url';
import { TenancyConfigError } from '../errors/tenancy.errors';
import { isValidTenantId } from '../core/tenant-id';

/** PostgreSQL truncates identifiers to 63 bytes; a tenant id takes up to 40 of them. */
const MAX_IDENTIFIER_BYTES = 63;
const MAX_TENANT_ID_LENGTH = 40;
const MAX_PREFIX_BYTES = MAX_IDENTIFIER_BYTES - MAX_TENANT_ID_LENGTH;
const PREFIX_PATTERN = /^[a-z_][a-z0-9_]*$/;

/**
 * Where a tenant's rows live, by name. Tenant databases carry the deployment key, so two
 * deployments on one server never name the same database; tenant schemas live inside the
 * deployment's own control database, so they are apart already. Names derive injectively from the validated id: ids hold
 * only a-z, 0-9 and '-', so mapping '-' to '_' cannot make two ids collide. That holds only while
 * no name is truncated (a prefix of at most 23 bytes) and no tenant's name can be the name of
 * something else (the control or shared schema, a server's home database): checked at start.
 */
@Injectable()
export class TenantNaming {
  constructor(@Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions) {
    const { naming } = options;
    const problems: string[] = [];
    const key = options.deploymentKey;
    if (!DEPLOYMENT_KEY_PATTERN.test(key)) problems.push(`deploymentKey: "${key}" must be 1 to 10 characters of a-z and 0-9`);
    // A tenant database is <databasePrefix><deploymentKey>_<tenant>: the prefix gets what is left.
    const budget = { schemaPrefix: MAX_PREFIX_BYTES, databasePrefix: MAX_PREFIX_BYTES - key.length - 1 };
    for (const name of ['schemaPrefix', 'databasePrefix'] as const) {
      const prefix = naming[name];
      if (!PREFIX_PATTERN.test(prefix) || Buffer.byteLength(prefix) > budget[name]) {
        const why = name === 'databasePrefix' ? ` (with deploymentKey "${key}")` : '';
        problems.push(
          `naming.${name}: "${prefix}" must be 1 to ${budget[name]} characters of a-z, 0-9 and "_", not starting with a digit${why}`,
        );
      }
    }
    const taken = (name: string, prefix: string) =>
      name.startsWith(prefix) && isValidTenantId(name.slice(prefix.length).replace(/_/g, '-'));
    for (const key of ['controlSchema', 'sharedSchema'] as const) {
      if (taken(naming[key], naming.schemaPrefix)) {
        problems.push(`naming.${key}: "${naming[key]}" could be the schema of a tenant under naming.schemaPrefix "${naming.schemaPrefix}"`);
      }
    }
    for (const [server, url] of Object.entries(options.servers ?? {})) {
      const home = databaseOf(url);
      if (taken(home, this.databaseStem)) {
        problems.push(
          `naming.databasePrefix: "${naming.databasePrefix}" with deploymentKey "${key}" could name a tenant database "${home}", the home database of server "${server}"`,
        );
      }
    }
    if (problems.length) throw new TenancyConfigError('tenancy naming options', problems);
  }

  get controlSchema(): string {
    return this.options.naming.controlSchema;
  }

  get sharedSchema(): string {
    return this.options.naming.sharedSchema;
  }

  /** Every tenant schema's name starts with this. */
  get schemaPrefix(): string {
    return this.options.naming.schemaPrefix;
  }

  /** Every tenant database's name starts with this (the deployment's databases start with `databaseStem`). */
  get databasePrefix(): string {
    return this.options.naming.databasePrefix;
  }

  /** The deployment key (see `TenancyModuleOptions.deploymentKey`). */
  get deploymentKey(): string {
    return this.options.deploymentKey;
  }

  /** What every tenant database of this deployment is named with: `<databasePrefix><deploymentKey>_`. */
  get databaseStem(): string {
    return `${this.options.naming.databasePrefix}${this.options.deploymentKey}_`;
  }

  schemaFor(tenantId: string): string {
    return this.options.naming.schemaPrefix + this.safe(tenantId);
  }

  databaseFor(tenantId: string): string {
    return this.databaseStem + this.safe(tenantId);
  }

  /** The name versions before deployment keys gave a tenant database (`<databasePrefix><tenant>`): for the upgrade. */
  legacyDatabaseFor(tenantId: string): string {
    return this.options.naming.databasePrefix + this.safe(tenantId);
  }

  private safe(tenantId: string): string {
    if (!isValidTenantId(tenantId)) throw new Error(`invalid tenant id reached naming: ${String(JSON.stringify(tenantId)).slice(0, 60)}`);
    return tenantId.replace(/-/g, '_');
  }
}
