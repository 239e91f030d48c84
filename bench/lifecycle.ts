/**
 * `npm run bench:lifecycle`: times the tenant lifecycle on a throwaway embedded PostgreSQL and
 * prints the figures (no assertions).
 *
 * - provisioning one tenant per model (median of several);
 * - migrating every tenant when one migration (adding a column) is pending, over BENCH_MIGRATE_TENANTS
 *   schema tenants (default 1,000), then a run with nothing to do over BENCH_NOOP_TENANTS (default 10,000);
 * - moving a tenant with BENCH_MOVE_ROWS users (default 100,000) from the shared tables to its own
 *   database and back: how long writes were paused (the final catch-up and switch) and in all.
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { MigrationInterface, QueryRunner } from 'typeorm';
import { TenancyModule, TenantMigrations, TenantMover, TenantProvisioner } from '../libs/tenancy/src';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { TENANT_MIGRATIONS } from '../src/migrations';
import { Project } from '../src/projects/project.entity';
import { User } from '../src/users/user.entity';

const MIGRATE_TENANTS = Number(process.env.BENCH_MIGRATE_TENANTS ?? 1_000);
const NOOP_TENANTS = Number(process.env.BENCH_NOOP_TENANTS ?? 10_000);
const MOVE_ROWS = Number(process.env.BENCH_MOVE_ROWS ?? 100_000);

class AddUserTimezone1732752099999 implements MigrationInterface {
  name = 'AddUserTimezone1732752099999';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN timezone text`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN timezone`);
  }
}

async function context(databaseUrl: string, migrations: (new () => MigrationInterface)[]) {
  @Module({
    imports: [
      TenancyModule.forRoot({
        databaseUrl,
        catalog: {
          tiers: { free: { strategy: 'shared' }, pro: { strategy: 'schema' }, enterprise: { strategy: 'database' } },
          tenants: [],
        },
        entities: [User, Project],
        migrations,
        pool: { max: 8 },
      }),
    ],
  })
  class BenchModule {}
  return NestFactory.createApplicationContext(BenchModule, { logger: ['error'] });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function parallel<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nest-tenancy-bench-'));
  const pg = await startEmbeddedPostgres({ dir, persistent: false });
  const lines: string[] = [];
  const say = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  try {
    let app = await context(pg.url, TENANT_MIGRATIONS);
    const provisioner = app.get(TenantProvisioner);
    for (const strategy of ['shared', 'schema', 'database'] as const) {
      const times: number[] = [];
      for (let i = 0; i < (strategy === 'database' ? 5 : 15); i++) {
        const t0 = Date.now();
        await provisioner.provision({ id: `p-${strategy}-${i}`, name: 'bench', strategy });
        times.push(Date.now() - t0);
      }
      say(`| provision one ${strategy} tenant (median of ${times.length}) | ${median(times)} ms |`);
    }

    const t0 = Date.now();
    const ids = Array.from({ length: NOOP_TENANTS }, (_, i) => `s-${i}`);
    await parallel(ids, 4, (id) => provisioner.provision({ id, name: id, strategy: 'schema' }));
    say(`| provision ${NOOP_TENANTS} schema tenants, 4 at a time | ${((Date.now() - t0) / 1000).toFixed(1)} s |`);
    await app.close();

    // A new migration for MIGRATE_TENANTS of them: mark the rest current with the new version first,
    // as if they had been migrated by an earlier run, so the run migrates exactly MIGRATE_TENANTS.
    app = await context(pg.url, [...TENANT_MIGRATIONS, AddUserTimezone1732752099999]);
    const migrations = app.get(TenantMigrations);
    const owner = new Client({ connectionString: pg.url });
    await owner.connect();
    await owner.query(
      `UPDATE tenancy.migration_ledger SET version = $1
        WHERE target LIKE 's-%' AND substring(target from 3)::int >= $2`,
      [migrations.latest, MIGRATE_TENANTS],
    );
    let report = await migrations.run({ concurrency: 4 });
    say(
      `| migrate: add a column to ${report.applied} schema tenants (${report.skipped} skipped, ${report.failed} failed) | ${(report.millis / 1000).toFixed(1)} s |`,
    );
    report = await migrations.run({ concurrency: 4 });
    say(`| migrate with nothing to do over ${report.outcomes.length} targets (${report.skipped} skipped) | ${report.millis} ms |`);

    await provisioner.provision({ id: 'big', name: 'Big', strategy: 'shared' });
    await owner.query('BEGIN');
    await owner.query(`SELECT set_config('app.tenant_id', 'big', true)`);
    await owner.query(
      `INSERT INTO tenancy_shared.users (id, email, name)
       SELECT gen_random_uuid(), 'user' || g || '@big.test', 'User ' || g FROM generate_series(1, $1) g`,
      [MOVE_ROWS],
    );
    await owner.query('COMMIT');
    await owner.end();
    const mover = app.get(TenantMover);
    for (const strategy of ['database', 'schema', 'shared'] as const) {
      const move = await mover.move('big', { strategy });
      say(
        `| move ${MOVE_ROWS} users ${move.from.strategy} -> ${move.to.strategy}: writes paused / total | ${move.freezeMillis} ms / ${move.totalMillis} ms |`,
      );
    }
    await app.close();
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\n| lifecycle (embedded PostgreSQL) | time |\n|---|---|\n${lines.join('\n')}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
