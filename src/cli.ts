import { exitOnInvalidEnvironment } from './config/check-environment';
import { describeStartFailure, ensureDatabase } from './database/ensure-database';

/**
 * `npm run tenancy -- <command>`: the tenant lifecycle from a shell (list, provision, suspend,
 * resume, migrate, move, export, delete); `--help` lists them. Uses DATABASE_URL, or the embedded
 * PostgreSQL of `npm start` under .data/ when it is unset.
 */
async function main(): Promise<void> {
  exitOnInvalidEnvironment();
  const embedded = await ensureDatabase();
  const { CommandFactory } = await import('nest-commander');
  const { TenancyCliModule } = await import('./cli/tenancy-cli.module.js');
  try {
    await CommandFactory.run(TenancyCliModule, {
      logger: ['error', 'warn'],
      errorHandler: (err) => {
        const code = (err as { code?: string }).code ?? '';
        if (code === 'commander.helpDisplayed' || code === 'commander.version' || err.message === '(outputHelp)') return;
        console.error(err.message);
        process.exitCode = 1;
      },
      serviceErrorHandler: (err) => {
        console.error(err.message);
        process.exitCode = 1;
      },
    });
  } finally {
    await embedded?.stop();
  }
}

void main().catch((err) => {
  console.error(describeStartFailure(err));
  process.exit(1);
});
