import { Inject, Injectable } from '@nestjs/common';
import type { EntityTarget, ObjectLiteral } from 'typeorm';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';

/**
 * The entities of the runtime DataSources: the root options' `entities` plus every entity a
 * `TenancyModule.forFeature([...])` names. Feature modules register while Nest builds its
 * providers, which is before any DataSource is initialized (that happens in `onModuleInit`), so a
 * feature's entity never needs repeating in the root options.
 */
@Injectable()
export class FeatureEntities {
  private readonly registered = new Set<Function>();

  constructor(@Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions) {}

  /** Only entity classes can be added (TypeORM's runtime DataSources take classes). */
  register(entity: EntityTarget<ObjectLiteral>): void {
    if (typeof entity !== 'function') {
      throw new Error(`TenancyModule.forFeature takes entity classes; '${String(entity)}' is not one. List it in TenancyModule.forRoot({ entities }).`);
    }
    this.registered.add(entity);
  }

  /** Root entities first, then the features', each once. */
  all(): Function[] {
    return [...new Set([...this.options.entities, ...this.registered])];
  }
}
