import { Injectable } from '@nestjs/common';
import type { EntityTarget, ObjectLiteral } from 'typeorm';

/**
 * The entities of the runtime DataSources: the root options' `entities` plus every entity a
 * `TenancyModule.forFeature([...])` names. Both register while Nest builds its instances, which is
 * before any DataSource is initialized (that happens in `onModuleInit`), so a feature's entity
 * never needs repeating in the root options. Provided by the module's always-global host, so
 * `forFeature` works whether or not the module is global.
 */
@Injectable()
export class FeatureEntities {
  private readonly registered = new Set<Function>();

  /**
   * Only entity classes can be added (TypeORM's runtime DataSources take classes).
   * @throws TypeError for anything else (an entity schema or a table name).
   */
  register(entity: EntityTarget<ObjectLiteral>): void {
    if (typeof entity !== 'function') {
      throw new TypeError(`TenancyModule.forFeature and the entities option take entity classes; '${String(entity)}' is not one.`);
    }
    this.registered.add(entity);
  }

  /** Every entity registered, each once, in the order registered. */
  all(): Function[] {
    return [...this.registered];
  }
}
