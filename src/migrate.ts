import { exitOnInvalidEnvironment } from './config/check-environment';
import { AppLogger } from './common/app-logger';
import { createLogging } from './observability/logging';
import { outcomeLine, statusLine, summarizeRun } from './cli/migration-report';
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
      for (const row of await migrations.status()) console.log(statusLine(row));
      return 0;
    }
    const report = await migrations.run({ concurrency: 4 });
    for (const o of report.outcomes) console.log(outcomeLine(o));
    console.log(summarizeRun(report));
    return report.failed ? 1 : 0;
  } finally {
    await app.close();
    await embedded?.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    // One line, as the CLI prints it (describeStartFailure never gives undefined or a stack trace).
    console.error(describeStartFailure(err));
    process.exit(1);
  },
);
