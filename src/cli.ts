import { exitOnInvalidEnvironment } from './config/check-environment';
import { describeStartFailure, ensureDatabase } from './database/ensure-database';

/**
 * `npm run tenancy -- <command>`: the tenant lifecycle from a shell (list, provision, suspend,
 * resume, migrate, move, export, delete); `--help` lists them. Uses DATABASE_URL, else the embedded
 * PostgreSQL of a running `npm start` (found under .data/), else starts that embedded server for
 * the command. `--help`, no command, or a command that does not exist need no database.
 */
async function main(argv: string[]): Promise<void> {
  const { CommandFactory } = await import('nest-commander');
  const { errorMessage } = await import('../libs/tenancy/src/index.js');
  const { cliCommandNames } = await import('./cli/cli-commands.js');
  const { CliLogger } = await import('./cli/cli-logger.js');
  const run = (module: unknown) =>
    CommandFactory.run(module as Parameters<typeof CommandFactory.run>[0], {
      logger: new CliLogger(),
      // A provider that fails to build (a bad key-encryption key) rejects, and is printed below,
      // instead of Nest exiting on its own with nothing said.
      abortOnError: false,
      errorHandler: (err) => {
        const code = (err as { code?: string }).code ?? '';
        // Commander has printed help, the version or its own usage error already; its exit code
        // stays (0 for --help, 1 for a usage error or help shown for want of a command).
        if (code.startsWith('commander.') || err.message === '(outputHelp)') {
          process.exitCode = (err as { exitCode?: number }).exitCode ?? 0;
          return;
        }
        console.error(errorMessage(err));
        process.exitCode = 1;
      },
      serviceErrorHandler: (err) => {
        console.error(errorMessage(err));
        process.exitCode = 1;
      },
    });
  const [first] = argv;
  const wantsHelp = !first || first === 'help' || argv.includes('--help') || argv.includes('-h') || !cliCommandNames().includes(first);
  if (wantsHelp) {
    const { TenancyCliHelpModule } = await import('./cli/tenancy-cli-help.module.js');
    await run(TenancyCliHelpModule);
    return;
  }
  exitOnInvalidEnvironment();
  const embedded = await ensureDatabase();
  try {
    // Imported once DATABASE_URL is known: the environment is validated as AppModule loads.
    const { TenancyCliModule } = await import('./cli/tenancy-cli.module.js');
    await run(TenancyCliModule);
  } finally {
    await embedded?.stop();
  }
}

void main(process.argv.slice(2)).catch((err) => {
  console.error(describeStartFailure(err));
  process.exit(1);
});
