import { Command, CommandRunner, Option } from 'nest-commander';
import { ISOLATION_MODELS, IsolationModel, TenantMover, TenantProvisioner } from '../../libs/tenancy/src';

@Command({
  name: 'move',
  arguments: '<id>',
  description:
    'move a tenant to another model (or server) keeping ids, and with --tier to another tier; writes pause only for the final catch-up',
})
export class MoveCommand extends CommandRunner {
  constructor(
    private readonly mover: TenantMover,
    private readonly provisioner: TenantProvisioner,
  ) {
    super();
  }

  async run([id]: string[], options: { strategy?: IsolationModel; server?: string; tier?: string }): Promise<void> {
    // A tier names its model: --tier alone is enough (a tenant already there only changes tier).
    const strategy = options.strategy ?? (options.tier ? this.provisioner.modelOf({ id, tier: options.tier }) : undefined);
    if (!strategy) throw new Error(`name the target model with --strategy (${ISOLATION_MODELS.join(', ')}) or a tier with --tier`);
    const report = await this.mover.move(id, { strategy, server: options.server, tier: options.tier }, (phase, detail) =>
      console.error(`${new Date().toISOString()} ${phase}${detail ? ` ${detail}` : ''}`),
    );
    const rows = Object.entries(report.rows)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    console.log(
      `${id}: ${report.from.strategy} -> ${report.to.strategy} (${rows || 'no rows copied'}), tier ${report.tier ?? 'none'}; ` +
        `writes paused ${report.freezeMillis} ms, total ${report.totalMillis} ms`,
    );
    if (!options.tier && report.tier) {
      const tierModel = this.provisioner.modelOf({ id, tier: report.tier });
      if (tierModel !== report.to.strategy)
        console.log(`${id} keeps tier ${report.tier}, a tier of the ${tierModel} model: set another with move ${id} --tier <tier>`);
    }
  }

  @Option({ flags: '-s, --strategy <strategy>', description: 'target model: shared, schema or database (default: the model of --tier)' })
  parseStrategy(value: string): IsolationModel {
    if (!ISOLATION_MODELS.includes(value as IsolationModel)) throw new Error(`--strategy takes one of ${ISOLATION_MODELS.join(', ')}`);
    return value as IsolationModel;
  }

  @Option({ flags: '--server <server>', description: 'database model: a TENANT_DB_SERVERS name' })
  parseServer(value: string): string {
    return value;
  }

  @Option({
    flags: '-t, --tier <tier>',
    description: 'the tier the tenant takes with the move (a tier of the target model); default: it keeps its tier',
  })
  parseTier(value: string): string {
    return value;
  }
}
