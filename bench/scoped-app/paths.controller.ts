import { Controller, Get, Inject, Injectable, NotFoundException, Param, Scope } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import {
  CURRENT_TENANT,
  type CurrentTenant,
  InjectCurrentTenantDataSource,
  TENANT_CONNECTION,
  TenantDataSource,
} from '../../libs/tenancy/src';
import { User } from '../../src/users/user.entity';

/** What each measured path answers: the same row, read the same way. */
async function answer(users: Repository<User>, id: string): Promise<{ id: string; email: string; name: string }> {
  const user = await users.findOneBy({ id });
  if (!user) throw new NotFoundException(`User ${id} not found.`);
  return { id: user.id, email: user.email, name: user.name };
}

/** The singleton path: a singleton controller, the tenant repository proxy (`@InjectRepository(User, TENANT_CONNECTION)`). */
@Controller('singleton/users')
export class SingletonPathController {
  constructor(@InjectRepository(User, TENANT_CONNECTION) private readonly users: Repository<User>) {}

  @Get(':id')
  get(@Param('id') id: string) {
    return answer(this.users, id);
  }
}

/**
 * The durable path: the tenant's DataSource as a durable request-scoped provider
 * (`@InjectCurrentTenantDataSource()`), so the controller is durable too: one instance per tenant,
 * each request routed to its tenant's through the module's ContextIdStrategy.
 */
@Controller('durable/users')
export class DurablePathController {
  constructor(@InjectCurrentTenantDataSource() private readonly data: TenantDataSource) {}

  @Get(':id')
  get(@Param('id') id: string) {
    return answer(this.data.getRepository(User), id);
  }
}

/** A plain (non-durable) request-scoped provider: built for every request, as the design card avoids on the hot path. */
@Injectable({ scope: Scope.REQUEST })
export class PerRequestUsers {
  constructor(
    @Inject(CURRENT_TENANT) readonly tenant: CurrentTenant,
    readonly data: TenantDataSource,
  ) {}
}

/** The per-request path, for scale: a controller built for each request with its provider. */
@Controller('per-request/users')
export class PerRequestPathController {
  constructor(private readonly scoped: PerRequestUsers) {}

  @Get(':id')
  get(@Param('id') id: string) {
    return answer(this.scoped.data.getRepository(User), id);
  }
}
