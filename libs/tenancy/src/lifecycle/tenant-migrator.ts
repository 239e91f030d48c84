import { Inject, Injectable } from '@nestjs/common';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { OwnerConnections } from '../data-source/owner-connections';
import { RuntimeRole } from '../data-source/runtime-role';
import type { TenantLocation } from '../strategies/isolation-strategy';
import { MigrationRunner } from './migration-runner';

/** Applies the tenant migration set to one location (a schema of a database of a server). */
@Injectable()
export class TenantMigrator {
  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly runner: MigrationRunner,
    private readonly role: RuntimeRole,
  ) {}

  /** `pinTenant`: the location is that tenant's own (schema or database model). */
  async migrate(location: TenantLocation, pinTenant?: string): Promise<string[]> {
    return this.owner.withDatabase(location.server, location.database, (ds) =>
      this.runner.apply(ds, location.schema, this.options.migrations, this.role.name, pinTenant),
    );
  }
}
