import type { TenantRecord } from '../catalog/tenant-record';
import type { IsolationModel, TransactionLimits } from '../config/tenancy-options';
import type { DataSourceLease } from '../data-source/runtime-data-source';
import type { TenantLocation } from '../catalog/tenant-location';


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
  /**
   * SQL sent in one round trip on a fresh connection: BEGIN, the transaction-scoped settings and the
   * fence check (a fenced tenant's transaction is read-only: writes fail with SQLSTATE 25006).
   */
  preamble(tenant: Pick<TenantRecord, 'id' | 'server'>, limits?: Required<TransactionLimits>): string;
  /**
   * Fences the tenant at this model's location: from the commit on, every transaction of the tenant
   * there is read-only, in every instance, whatever its catalog says (a move's freeze, and the old
   * place after its switch). Idempotent. Throws the driver's error when the location is unreachable.
   */
  fence(tenant: Pick<TenantRecord, 'id' | 'server'>): Promise<void>;
  /** Lifts the fence (a failed move's source; a place the tenant is provisioned or moved into). Idempotent. */
  unfence(tenant: Pick<TenantRecord, 'id' | 'server'>): Promise<void>;
}
