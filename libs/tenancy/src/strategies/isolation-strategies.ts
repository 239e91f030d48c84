import { Injectable } from '@nestjs/common';
import type { IsolationModel } from '../config/tenancy-options';
import { DatabaseStrategy } from './database.strategy';
import type { IsolationStrategy } from './isolation-strategy';
import { SchemaStrategy } from './schema.strategy';
import { SharedStrategy } from './shared.strategy';

/** The strategy of each model, looked up by the tenant's `strategy`. */
@Injectable()
export class IsolationStrategies {
  private readonly byModel: Record<IsolationModel, IsolationStrategy>;

  constructor(shared: SharedStrategy, schema: SchemaStrategy, database: DatabaseStrategy) {
    this.byModel = { shared, schema, database };
  }

  for(model: IsolationModel): IsolationStrategy {
    const strategy = this.byModel[model];
    if (!strategy) throw new Error(`unknown isolation model '${model}'`);
    return strategy;
  }
}
