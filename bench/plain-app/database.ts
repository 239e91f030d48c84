import { Injectable, OnApplicationShutdown, Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Project } from './project.entity';
import { PLAIN_SCHEMA } from './schema';
import { User } from './user.entity';

/**
 * The plain app's one TypeORM DataSource, injected as `DataSource`: on `DATABASE_URL`, pool max
 * `PLAIN_POOL_MAX` (default 10, as the kit's TENANCY_POOL_MAX in the benchmarks), initialized and
 * its tables made (PLAIN_SCHEMA) before any controller is built. No @nestjs/typeorm: not a
 * dependency of this project.
 */
export const plainDataSource: Provider = {
  provide: DataSource,
  useFactory: async () => {
    const dataSource = new DataSource({
      type: 'postgres',
      url: process.env.DATABASE_URL,
      entities: [User, Project],
      extra: { max: Number(process.env.PLAIN_POOL_MAX ?? 10) },
    });
    await dataSource.initialize();
    for (const sql of PLAIN_SCHEMA) await dataSource.query(sql);
    return dataSource;
  },
};

/** Closes the DataSource's pool when the app stops. */
@Injectable()
export class ClosePlainDataSource implements OnApplicationShutdown {
  constructor(private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}
