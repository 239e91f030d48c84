import { Injectable } from '@nestjs/common';
import type { TenantRecord } from '../catalog/tenant-record';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { UnitOfWork } from './unit-of-work';

/** Opens a unit of work on the pool that serves the tenant's model. */
@Injectable()
export class UnitOfWorkFactory {
  constructor(private readonly strategies: IsolationStrategies) {}

  async open(tenant: TenantRecord): Promise<UnitOfWork> {
    const strategy = this.strategies.for(tenant.strategy);
    const lease = await strategy.acquire(tenant);
    return new UnitOfWork(tenant, lease, strategy.preamble(tenant));
  }
}
