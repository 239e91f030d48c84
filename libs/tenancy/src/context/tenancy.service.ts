import { Injectable } from '@nestjs/common';
import { TenantAccess } from '../catalog/tenant-access';
import { TenantContext } from './tenant-context';
import { UnitOfWorkScope } from './unit-of-work-scope';

/** Tenancy for code outside HTTP: CLI commands, jobs, cron. */
@Injectable()
export class TenancyService {
  constructor(
    private readonly access: TenantAccess,
    private readonly scope: UnitOfWorkScope,
    private readonly context: TenantContext,
  ) {}

  /** The current tenant's id, or undefined outside a tenant context. */
  get currentTenantId(): string | undefined {
    return this.context.tenantId;
  }

  /**
   * Runs `fn` as tenant `tenantId`, with the same context and unit of work as a request: its queries
   * share one transaction, committed when `fn` resolves and rolled back when it throws. A write
   * refused by the tenant's fence (a move froze it, or moved it before this instance heard) throws
   * TenantMovingError (`retryAfterSeconds`): retry it.
   * @throws UnknownTenantError, TenantSuspendedError, TenantNotReadyError before `fn` runs.
   */
  async run<T>(tenantId: string, fn: () => Promise<T> | T): Promise<T> {
    return this.scope.bindToRun(this.access.servable(tenantId), fn);
  }
}
