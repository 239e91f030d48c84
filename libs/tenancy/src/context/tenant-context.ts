import { Injectable } from '@nestjs/common';
import { ClsService } from 'nestjs-cls';
import type { TenantRecord } from '../core/tenant-record';
import type { UnitOfWork } from '../data-source/unit-of-work';
import { NoTenantContextError } from '../errors/tenancy.errors';

/** The key of the current tenant's record in the nestjs-cls store. */
export const TENANT_CLS_KEY = 'tenancy:tenant';
const TENANT = TENANT_CLS_KEY;
const UNIT_OF_WORK = 'tenancy:unit-of-work';

/**
 * The current tenant and its unit of work, carried in the async context (nestjs-cls) of a request
 * or of a `TenancyService.run` call. A singleton: it reads the context at each call.
 */
@Injectable()
export class TenantContext {
  constructor(private readonly cls: ClsService) {}

  get tenant(): TenantRecord | undefined {
    return this.cls.isActive() ? this.cls.get(TENANT) : undefined;
  }

  get tenantId(): string | undefined {
    return this.tenant?.id;
  }

  get unitOfWork(): UnitOfWork | undefined {
    return this.cls.isActive() ? this.cls.get(UNIT_OF_WORK) : undefined;
  }

  /** The open unit of work, or a NoTenantContextError before anything reaches the database. */
  requireUnitOfWork(): UnitOfWork {
    const uow = this.unitOfWork;
    if (!uow) throw new NoTenantContextError();
    return uow;
  }

  enter(tenant: TenantRecord, unitOfWork: UnitOfWork): void {
    this.cls.set(TENANT, tenant);
    this.cls.set(UNIT_OF_WORK, unitOfWork);
  }
}
