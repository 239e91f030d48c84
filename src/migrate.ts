import { Logger } from '@nestjs/common';
import { exitOnInvalidEnvironment } from './config/check-environment';
import { AppLogger } from './common/app-logger';
import { createLogging } from './observability/logging';
import { describeStartFailure, ensureDatabase } from './database/ensure-database';

/**
 * `npm run migrate`: applies the control migrations and every pending tenant migration to the
 * shared tables, each tenant schema and each tenant database (`--status` only reports). Goes on
 * past a failing tenant, prints one line per target and exits non-zero if any failed.
 */
async function main(argv: string[]): Promise<number> {
  exitOnInvalidEnvironment();
  const embedded = await ensureDatabase();
  const { NestFactory } = await import('@nestjs/core');
  const { AppModule } = await import('./app.module.js');
  const { TenantMigrations } = await import('../libs/tenancy/src/index.js');
  const app = await NestFactory.createApplicationContext(AppModule, {
    logger: new AppLogger(createLogging({ level: 'warn' })),
    abortOnError: false,
  });
  try {
    const migrations = app.get(TenantMigrations);
    if (argv.includes('--status')) {
      for (const row of await migrations.status()) {
        console.log(
          `${row.target.padEnd(42)} ${row.model.padEnd(9)} ${row.status.padEnd(8)} ${row.version ?? '-'}${row.error ? `  (${row.error})` : ''}`,
        );
      }
      return 0;
    }
    const report = await migrations.run({ concurrency: 4 });
    for (const o of report.outcomes) {
      const what = o.error
        ? `FAILED: ${o.error}`
        : o.result === 'skipped'
          ? 'current (skipped)'
          : o.applied.length
            ? `applied ${o.applied.join(', ')}`
            : 'current';
      console.log(`${o.target.padEnd(42)} ${o.model.padEnd(9)} ${what}`);
    }
    console.log(
      `${report.outcomes.length} targets: ${report.applied} migrated, ${report.skipped} skipped, ${report.failed} failed, ${report.millis} ms`,
    );
    return report.failed ? 1 : 0;
  } finally {
    await app.close();
    await embedded?.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    new Logger('Migrate').error(describeStartFailure(err));
    process.exit(1);
  },
);
