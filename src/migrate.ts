import { Logger } from '@nestjs/common';
import { ensureDatabase } from './database/ensure-database';

/**
 * `npm run migrate`: applies the control migrations and every pending tenant migration to the
 * shared tables, each tenant schema and each tenant database. Goes on past a failing tenant, prints
 * one line per target and exits non-zero if any failed.
 */
async function main(): Promise<number> {
  const embedded = await ensureDatabase();
  const { NestFactory } = await import('@nestjs/core');
  const { AppModule } = await import('./app.module.js');
  const { TenantProvisioner } = await import('../libs/tenancy/src/index.js');
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  try {
    const started = Date.now();
    const results = await app.get(TenantProvisioner).migrateAll(4);
    for (const r of results) {
      const what = r.error ? `FAILED: ${r.error}` : r.applied.length ? `applied ${r.applied.join(', ')}` : 'up to date';
      console.log(`${r.target.padEnd(40)} ${what}`);
    }
    const failed = results.filter((r) => r.error).length;
    console.log(`${results.length} targets, ${failed} failed, ${Date.now() - started} ms`);
    return failed ? 1 : 0;
  } finally {
    await app.close();
    await embedded?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    new Logger('Migrate').error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
