import { DynamicModule, Module } from '@nestjs/common';
import { ClsModule } from 'nestjs-cls';
import { TenantContext } from './context/tenant-context';
import { FeatureEntities } from './connections/feature-entities';

/**
 * What `TenancyModule.forFeature` modules reach, global whatever `isGlobal` says: the entity
 * registry and the async context the tenant repositories read. Neither is public API, so being
 * global exposes nothing an app could inject by a public name. One per `TenancyModule.forRoot*`.
 */
@Module({})
export class TenancyHostModule {
  static create(): DynamicModule {
    const providers = [TenantContext, FeatureEntities];
    return { module: TenancyHostModule, global: true, imports: [ClsModule], providers, exports: providers };
  }
}
