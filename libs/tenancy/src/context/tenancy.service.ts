import { Injectable } from '@nestjs/common';
import { ClsService } from 'nestjs-cls';
import { TenantAccess } from '../catalog/tenant-access';
import { UnitOfWorkFactory } from '../data-source/unit-of-work-factory';
import { pgErrorCode, READ_ONLY_TRANSACTION } from '../errors/pg-error-code';
import { TenantMovingError } from '../errors/tenancy.errors';
import { TenantContext } from './tenant-context';

/** Tenancy for code outside HTTP: CLI commands, jobs, cron. */
@Injectable()
export class TenancyService {
  constructor(
    private readonly cls: ClsService,
    private readonly access: TenantAccess,
    private readonly units: UnitOfWorkFactory,
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
   */
  async run<T>(tenantId: string, fn: () => Promise<T> | T): Promise<T> {
    const tenant = this.access.servable(tenantId);
    return this.cls.run({ ifNested: 'override' }, async () => {
      const uow = await this.units.open(tenant);
      this.context.enter(tenant, uow);
      try {
        await uow.start();
        const result = await fn();
        await uow.commit();
        return result;
      } catch (err) {
        await uow.rollback();
        if (pgErrorCode(err) === READ_ONLY_TRANSACTION) throw new TenantMovingError(tenantId);
        throw err;
      }
    });
  }
}
