import { Inject, Injectable } from '@nestjs/common';
import type { TenantRecord } from '../catalog/tenant-record';
import { concurrencyFor, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenantBusyError } from '../errors/tenancy.errors';

/**
 * Counts each tenant's units of work in flight against its tier's `concurrency` (default: the
 * module's `concurrency`, 100). A tenant past its limit is refused at once, so a flood from one
 * tenant costs it 429s instead of queueing in front of everyone else.
 */
@Injectable()
export class TenantConcurrency {
  private readonly inFlight = new Map<string, number>();

  constructor(@Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions) {}

  /**
   * Takes a slot of `tenant` and returns the function that gives it back (once; later calls do nothing).
   * @throws TenantBusyError (429, Retry-After 1 s) when the tenant's slots are all taken.
   */
  enter(tenant: Pick<TenantRecord, 'id' | 'tier'>): () => void {
    const limit = concurrencyFor(this.options, tenant.tier);
    const now = this.inFlight.get(tenant.id) ?? 0;
    if (now >= limit) throw new TenantBusyError(tenant.id, limit);
    this.inFlight.set(tenant.id, now + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const n = (this.inFlight.get(tenant.id) ?? 1) - 1;
      if (n > 0) this.inFlight.set(tenant.id, n);
      else this.inFlight.delete(tenant.id);
    };
  }

  /**
   * Refuses early, without taking a slot, a tenant whose slots are all taken: a flood is then shed
   * before its body is read and before the rest of the request pipeline runs.
   * @throws TenantBusyError (429) when the tenant's slots are all taken.
   */
  check(tenant: Pick<TenantRecord, 'id' | 'tier'>): void {
    const limit = concurrencyFor(this.options, tenant.tier);
    if ((this.inFlight.get(tenant.id) ?? 0) >= limit) throw new TenantBusyError(tenant.id, limit);
  }

  /** Units of work of `tenantId` in flight now. */
  current(tenantId: string): number {
    return this.inFlight.get(tenantId) ?? 0;
  }
}
