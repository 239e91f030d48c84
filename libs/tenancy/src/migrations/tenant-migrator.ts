import { Inject, Injectable } from '@nestjs/common';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { ControlLocks } from '../catalog/control-locks';
import { Deployment, type Ownership } from '../catalog/deployment';
import { OwnerConnections } from '../connections/owner-connections';
import { TenantStateError } from '../errors/tenancy.errors';
import { RuntimeRole } from '../catalog/runtime-role';
import type { TenantLocation } from '../core/tenant-location';
import { MigrationRunner } from './migration-runner';

/** Applies the tenant migration set to one location (a schema of a database of a server). */
@Injectable()
export class TenantMigrator {
  /** What this process applied, per location (`server/database/schema`), oldest first. */
  private readonly appliedHere = new Map<string, string[]>();

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly runner: MigrationRunner,
    private readonly role: RuntimeRole,
    private readonly deployment: Deployment,
    private readonly locks: ControlLocks,
  ) {}

  /**
   * `pinTenant`: the location is that tenant's own (schema or database model). Only a schema or
   * database this deployment created (its mark) is migrated.
   * @throws DeploymentOwnershipError when the location exists without this deployment's mark.
   * @throws TenantStateError when the location does not exist (provision the tenant first).
   */
  async migrate(location: TenantLocation, pinTenant?: string): Promise<string[]> {
    const inHome = this.inHome(location);
    const owned = await this.ownership(location);
    if (owned === 'absent') {
      throw new TenantStateError(
        `The ${inHome ? `schema "${location.schema}"` : `database "${location.database}" on server "${location.server}"`} does not exist: provision the tenant first.`,
      );
    }
    // A lifecycle lock, out of the runtime role's reach (it could hold an advisory lock forever).
    const applied = await this.locks.withLock(`migrate:${location.server}:${location.database}:${location.schema}`, () =>
      this.owner.withDatabase(location.server, location.database, (ds) =>
        this.runner.apply(ds, location.schema, this.options.migrations, this.role.name, pinTenant, true),
      ),
    );
    if (applied.length) {
      const key = locationKey(location);
      this.appliedHere.set(key, [...(this.appliedHere.get(key) ?? []), ...applied]);
    }
    return applied;
  }

  /**
   * The migrations this process has applied to the location so far (at start-up, while
   * provisioning, or in an earlier run), oldest first; empty when it applied none there.
   */
  appliedByThisProcess(location: TenantLocation): string[] {
    return [...(this.appliedHere.get(locationKey(location)) ?? [])];
  }

  /**
   * Whether the location's schema (in the home database) or database (elsewhere) exists as this
   * deployment's: 'ours' or 'absent'.
   * @throws DeploymentOwnershipError when it exists without this deployment's mark.
   */
  ownership(location: TenantLocation): Promise<Ownership> {
    return this.inHome(location)
      ? this.deployment.checkSchema(location.schema)
      : this.deployment.checkDatabase(location.server, location.database);
  }

  private inHome(location: TenantLocation): boolean {
    return location.server === 'default' && location.database === this.owner.homeDatabase();
  }
}

function locationKey(location: TenantLocation): string {
  return JSON.stringify([location.server, location.database, location.schema]);
}
