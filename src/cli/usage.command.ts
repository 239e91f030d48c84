import { Command, CommandRunner, Option } from 'nest-commander';
import { UsageReports, type UsagePeriod } from '../../libs/tenancy/src';
import { usageTable } from '../usage/usage-table';

const PERIODS: UsagePeriod[] = ['month', 'day'];

@Command({
  name: 'usage',
  description: "every tenant's usage this month (or day) from the usage ledger, with storage and estimated cost",
})
export class UsageCommand extends CommandRunner {
  constructor(private readonly reports: UsageReports) {
    super();
  }

  async run(_args: string[], options: { period?: UsagePeriod; tenant?: string }): Promise<void> {
    const { from, to } = UsageReports.periodRange(options.period ?? 'month');
    const report = await this.reports.period(from, to, options.tenant);
    for (const line of usageTable(report)) console.log(line);
  }

  @Option({ flags: '-p, --period <period>', description: 'month (default) or day: the current UTC month or day up to now' })
  parsePeriod(value: string): UsagePeriod {
    if (!PERIODS.includes(value as UsagePeriod)) throw new Error(`--period takes one of ${PERIODS.join(', ')}`);
    return value as UsagePeriod;
  }

  @Option({ flags: '-t, --tenant <id>', description: 'only this tenant' })
  parseTenant(value: string): string {
    return value;
  }
}
