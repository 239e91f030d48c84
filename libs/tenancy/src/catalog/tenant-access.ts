import { Injectable } from '@nestjs/common';
import {
  MalformedTenantIdError,
  TenantMovingError,
  TenantNotReadyError,
  TenantSuspendedError,
  UnknownTenantError,
} from '../errors/tenancy.errors';
import { isValidTenantId } from '../core/tenant-id';
import { TenantCatalog } from './tenant-catalog';
import { TenantRecord } from '../core/tenant-record';

/** The methods whose requests do not write (RFC 9110, section 9.2.1). */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
const READS = SAFE_METHODS;

/** Decides whether a tenant id may be served now: format, existence, status. */
@Injectable()
export class TenantAccess {
  constructor(private readonly catalog: TenantCatalog) {}

  /**
   * The tenant record, or the typed error that says why it cannot be served. While a tenant is
   * being moved, reads go on and writes (any method but GET, HEAD, OPTIONS) get a 503.
   */
  servable(id: string, source = 'the caller', method = 'POST'): TenantRecord {
    if (!isValidTenantId(id)) throw new MalformedTenantIdError(source);
    const tenant = this.catalog.get(id);
    if (!tenant || tenant.status === 'deleting') throw new UnknownTenantError(id);
    if (tenant.status === 'suspended') throw new TenantSuspendedError(id);
    if (tenant.status === 'provisioning') throw new TenantNotReadyError(id, 'still being provisioned');
    if (tenant.status === 'moving' && !READS.has(method.toUpperCase())) throw new TenantMovingError(id);
    return tenant;
  }
}
