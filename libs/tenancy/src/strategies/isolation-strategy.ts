import type { DataSource } from 'typeorm';
import type { TenantLocation } from '../core/tenant-location';
import type { TenantRecord } from '../core/tenant-record';
import type { IsolationModel, TransactionLimits } from '../config/tenancy-options';
import type { DataSourceLease } from '../connections/runtime-data-source';

/** A tenant's identity and server: all a strategy needs to place it. */
export type PlacedTenant = Pick<TenantRecord, 'id' | 'server'>;

/**
 * The one place all tenants of a model share (the shared tables), migrated once for all of them.
 */
export interface CommonPlace {
  /** Its name in the migration ledger: never a valid tenant id (for example `@shared`). */
  target: string;
  location: TenantLocation;
}

/**
 * One isolation model. The rest of the library (and every feature module) talks to this interface
 * only, so a model is chosen per tenant by configuration and never by code: the lifecycle
 * (provisioning, migrations, moves, deletion, sizes) asks the strategy instead of naming a model.
 * A new model is one class implementing this, registered in IsolationStrategies.
 */
export interface IsolationStrategy {
  readonly model: IsolationModel;
  /**
   * Whether a tenant of this model is placed on a server of its choosing (its record's `server`, a
   * key of the `servers` option); every other model's tenants are on `default`.
   */
  readonly takesServer: boolean;
  /**
   * Where the tenant's rows live: what the runtime, the migrator and the fence use, and what a move
   * opens on each side (its source and its target) to copy the tenant's rows, always filtered by
   * `tenant_id` so that a place other tenants share copies only this tenant's rows.
   */
  location(tenant: PlacedTenant): TenantLocation;
  /** The place every tenant of this model shares, or undefined when each tenant has its own. */
  commonPlace(): CommonPlace | undefined;
  /**
   * The migration ledger's entry for the tables the tenant is served from: the common place's
   * target, or the tenant id when the tenant has a place of its own.
   */
  ledgerTarget(tenant: Pick<TenantRecord, 'id'>): string;
  /**
   * Creates what the tenant needs (schema, database) and applies every pending migration. Idempotent.
   * @throws DeploymentOwnershipError when the place exists without this deployment's mark.
   */
  provision(tenant: PlacedTenant): Promise<void>;
  /**
   * Creates and migrates the common place (once per process); resolves to it, or to undefined (and
   * does nothing) when the model has none.
   */
  provisionCommon(): Promise<CommonPlace | undefined>;
  /**
   * Removes every row of the tenant at this model's place: a place of its own (schema, database)
   * goes whole with its fence table, only when it carries this deployment's mark; in a common place
   * the tenant's rows are deleted, and its fence row too unless `keepFence` (a move's source stays
   * fenced after the switch). Nothing to remove is no error.
   * @throws DeploymentOwnershipError when the place exists without this deployment's mark.
   */
  drop(tenant: PlacedTenant, options?: { keepFence?: boolean }): Promise<void>;
  /**
   * Bytes on disk of one tenant: its schema's or database's relations, or in a common place its
   * share of the tables by its share of their rows. `ds` is an owner connection to the tenant's
   * location; `rows` the tenant's row count per table there. Null when it cannot be told.
   */
  sizeOf(tenant: PlacedTenant, ds: DataSource, rows: Record<string, number>): Promise<number | null>;
  /**
   * Bytes on disk of each of `tenants` (all of this model), by id, in a few bulk queries; null for
   * a tenant whose size cannot be told (no place, or a common place read by an owner that row-level
   * security keeps from counting other tenants' rows).
   */
  sizes(tenants: PlacedTenant[]): Promise<Map<string, number | null>>;
  /**
   * Brings this model's places made by a version without deployment keys under this deployment
   * (renamed to their keyed names where the name holds the key, and marked); run once by
   * DeploymentUpgrade. Returns how many places were renamed.
   */
  adoptUnkeyed(tenants: TenantRecord[]): Promise<number>;
  /** The runtime DataSource serving the tenant, held until the lease is released. */
  acquire(tenant: TenantRecord): Promise<DataSourceLease>;
  /**
   * The SELECT a unit of work runs right after BEGIN (in the round trip of its first query): the
   * transaction-scoped settings and, as its last column, the fence check (a fenced tenant's
   * transaction is read-only: writes fail with SQLSTATE 25006).
   */
  preamble(tenant: PlacedTenant, limits?: Required<TransactionLimits>): string;
  /**
   * Fences the tenant at this model's location: from the commit on, every transaction of the tenant
   * there is read-only, in every instance, whatever its catalog says (a move's freeze, and the old
   * place after its switch). Idempotent. Throws the driver's error when the location is unreachable.
   */
  fence(tenant: PlacedTenant): Promise<void>;
  /** Lifts the fence (a failed move's source; a place the tenant is provisioned or moved into). Idempotent. */
  unfence(tenant: PlacedTenant): Promise<void>;
}
