import type { TenantRecord } from '../catalog/tenant-record';
import type { IsolationModel } from '../config/tenancy-options';
import type { DataSourceLease } from '../data-source/runtime-data-source';

/** Where a tenant's rows live. */
export interface TenantLocation {
  server: string;
  database: string;
  schema: string;
}

/**
 * One isolation model. The rest of the library (and every feature module) talks to this interface
 * only, so a model is chosen per tenant by configuration and never by code.
 */
export interface IsolationStrategy {
  readonly model: IsolationModel;
  location(tenant: Pick<TenantRecord, 'id' | 'server'>): TenantLocation;
  /** Creates what the tenant needs (schema, database) and applies every pending migration. Idempotent. */
  provision(tenant: Pick<TenantRecord, 'id' | 'server'>): Promise<void>;
  /** The runtime DataSource serving the tenant, held until the lease is released. */
  acquire(tenant: TenantRecord): Promise<DataSourceLease>;
  /** SQL sent in one round trip on a fresh connection: BEGIN plus the transaction-scoped settings. */
  preamble(tenant: Pick<TenantRecord, 'id' | 'server'>): string;
}
