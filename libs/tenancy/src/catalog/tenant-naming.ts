import { Inject, Injectable } from '@nestjs/common';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { isValidTenantId } from '../resolution/tenant-id';

/** Quotes an identifier for SQL. Every schema, database and role name goes through here. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a literal for SQL (standard_conforming_strings is on in every supported version). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('a SQL literal cannot hold a NUL byte');
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Where a tenant's rows live, by name. Names derive injectively from the validated id: ids hold
 * only a-z, 0-9 and '-', so mapping '-' to '_' cannot make two ids collide.
 */
@Injectable()
export class TenantNaming {
  constructor(@Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions) {}

  get controlSchema(): string {
    return this.options.naming.controlSchema;
  }

  get sharedSchema(): string {
    return this.options.naming.sharedSchema;
  }

  schemaFor(tenantId: string): string {
    return this.options.naming.schemaPrefix + this.safe(tenantId);
  }

  databaseFor(tenantId: string): string {
    return this.options.naming.databasePrefix + this.safe(tenantId);
  }

  private safe(tenantId: string): string {
    if (!isValidTenantId(tenantId)) throw new Error(`invalid tenant id reached naming: ${JSON.stringify(tenantId).slice(0, 60)}`);
    return tenantId.replace(/-/g, '_');
  }
}
