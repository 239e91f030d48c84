import { Command, CommandRunner, Option } from 'nest-commander';
import { ISOLATION_MODELS, IsolationModel, TenantMover } from '../../libs/tenancy/src';

@Command({
  name: 'move',
  arguments: '<id>',
  description: 'move a tenant to another model (or server), keeping ids; writes pause only for the final catch-up',
})
export class MoveCommand extends CommandRunner {
  constructor(private readonly mover: TenantMover) {
    super();
  }

  async run([id]: string[], options: { strategy?: IsolationModel; server?: string }): Promise<void> {
    if (!options.strategy) throw new Error(`name the target model with --strategy (${ISOLATION_MODELS.join(', ')})`);
    const report = await this.mover.move(id, { strategy: options.strategy, server: options.server }, (phase, detail) =>
      console.error(`${new Date().toISOString()} ${phase}${detail ? ` ${detail}` : ''}`),
    );
    const rows = Object.entries(report.rows)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    console.log(
      `${id}: ${report.from.strategy} -> ${report.to.strategy} (${rows}); writes paused ${report.freezeMillis} ms, total ${report.totalMillis} ms`,
    );
  }

  @Option({ flags: '-s, --strategy <strategy>', description: 'target model: shared, schema or database' })
  parseStrategy(value: string): IsolationModel {
    if (!ISOLATION_MODELS.includes(value as IsolationModel)) throw new Error(`--strategy takes one of ${ISOLATION_MODELS.join(', ')}`);
    return value as IsolationModel;
  }

  @Option({ flags: '--server <server>', description: 'database model: a TENANT_DB_SERVERS name' })
  parseServer(value: string): string {
    return value;
  }
}
