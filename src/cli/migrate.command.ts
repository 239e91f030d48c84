import { SingleBar } from 'cli-progress';
import { Command, CommandRunner, Option } from 'nest-commander';
import { TenantMigrations } from '../../libs/tenancy/src';
import { statusLine, summarizeRun } from './migration-report';

@Command({
  name: 'migrate',
  description: 'apply pending migrations to every tenant (skips current ones, goes on past failures, resumable)',
})
export class MigrateCommand extends CommandRunner {
  constructor(private readonly migrations: TenantMigrations) {
    super();
  }

  async run(_args: string[], options: { status?: boolean; concurrency?: number }): Promise<void> {
    if (options.status) {
      const rows = await this.migrations.status();
      const counts = new Map<string, number>();
      for (const r of rows) {
        console.log(statusLine(r));
        counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
      }
      console.log(`latest: ${this.migrations.latest ?? '-'}; ${[...counts].map(([k, v]) => `${v} ${k}`).join(', ')}`);
      return;
    }
    const bar = process.stderr.isTTY
      ? new SingleBar({ format: 'migrating [{bar}] {value}/{total} {target}', clearOnComplete: true })
      : undefined;
    let started = false;
    const report = await this.migrations.run({
      concurrency: options.concurrency ?? 4,
      onProgress: (done, total, outcome) => {
        if (bar && !started) {
          bar.start(total, 0, { target: '' });
          started = true;
        }
        bar?.update(done, { target: outcome.target });
        if (outcome.result === 'failed') console.error(`\n${outcome.target}: FAILED: ${outcome.error}`);
      },
    });
    bar?.stop();
    console.log(summarizeRun(report));
    if (report.failed) process.exitCode = 1;
  }

  @Option({ flags: '--status', description: 'report which tenants are on which version, change nothing' })
  parseStatus(): boolean {
    return true;
  }

  @Option({ flags: '-c, --concurrency <n>', description: 'targets migrated at once on each server (default 4)' })
  parseConcurrency(value: string): number {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error('--concurrency takes a whole number from 1 to 64');
    return n;
  }
}
