/**
 * The app `npm run bench:scoped` measures (bench/scoped.ts): TenancyModule on the reference
 * service's users table, with the same GET of one user by id through three paths (see
 * paths.controller.ts), on Fastify. Environment: DATABASE_URL, PORT, BENCH_TENANTS (a JSON list of
 * `{ id, strategy }`), BENCH_USERS (users seeded per tenant). Prints `READY <json>` (the seeded ids per
 * tenant) once it listens.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { type IsolationModel, TENANT_CONNECTION, TenancyExceptionFilter, TenancyModule, TenancyService } from '../../libs/tenancy/src';
import { TENANT_MIGRATIONS } from '../../src/migrations';
import { User } from '../../src/users/user.entity';
import { DurablePathController, PerRequestPathController, PerRequestUsers, SingletonPathController } from './paths.controller';

const tenants: { id: string; strategy: IsolationModel }[] = JSON.parse(process.env.BENCH_TENANTS ?? '[]');
const USERS = Number(process.env.BENCH_USERS ?? 50);

/** Seeds the users of each tenant (a singleton, outside HTTP). */
@Injectable()
class Seeder {
  constructor(
    @InjectRepository(User, TENANT_CONNECTION) private readonly users: Repository<User>,
    private readonly tenancy: TenancyService,
  ) {}

  async seed(): Promise<Record<string, string[]>> {
    const ids: Record<string, string[]> = {};
    for (const { id: tenant } of tenants) {
      ids[tenant] = await this.tenancy.run(tenant, async () => {
        const rows = Array.from({ length: USERS }, (_, i) => ({ id: randomUUID(), email: `u${i}@${tenant}.test`, name: `User ${i}` }));
        await this.users.insert(rows);
        return rows.map((r) => r.id);
      });
    }
    return ids;
  }
}

@Module({
  imports: [
    TenancyModule.forRoot({
      databaseUrl: process.env.DATABASE_URL!,
      catalog: { tiers: {}, tenants: tenants.map((t) => ({ id: t.id, name: t.id, strategy: t.strategy })) },
      migrations: TENANT_MIGRATIONS,
      pool: { max: 10 },
    }),
    TenancyModule.forFeature([User]),
  ],
  controllers: [SingletonPathController, DurablePathController, PerRequestPathController],
  providers: [PerRequestUsers, Seeder, { provide: APP_FILTER, useClass: TenancyExceptionFilter }],
})
class ScopedBenchModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(ScopedBenchModule, new FastifyAdapter(), { logger: ['error', 'warn'], abortOnError: false });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.init();
  const ids = await app.get(Seeder).seed();
  await app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
  console.log(`READY ${JSON.stringify(ids)}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
