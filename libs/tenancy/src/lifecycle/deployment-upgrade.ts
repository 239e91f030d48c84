import { Injectable, Logger } from '@nestjs/common';
import { Deployment } from '../catalog/deployment';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { RuntimeRole } from '../catalog/runtime-role';
import { TenantMigrator } from '../migrations/tenant-migrator';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { errorMessage } from '../core/error-message';

/**
 * The upgrade of a deployment started by a version without deployment keys, run once at start
 * (and again after an interrupted run) before any request is served:
 * - each model adopts its places (IsolationStrategy.adoptUnkeyed): a tenant database
 *   `<prefix><tenant>` is renamed to `<prefix><key>_<tenant>` and marked, unless another
 *   deployment marked it first (then it is left alone, and the tenant's provisioning says so); the
 *   shared schema and each tenant schema (inside the deployment's own control database, so their
 *   names do not change) get the mark;
 * - every location is migrated again, which grants the deployment's runtime role its DML.
 * The last step alone also runs when the kit's own layout of a location changed (KIT_LAYOUT).
 * The previous runtime role (`tenancy_app` by default) is left as it is: other deployments on the
 * server may still use it; drop it once none does.
 */
@Injectable()
export class DeploymentUpgrade {
  private readonly logger = new Logger('Tenancy');

  constructor(
    private readonly deployment: Deployment,
    private readonly catalog: TenantCatalog,
    private readonly strategies: IsolationStrategies,
    private readonly migrator: TenantMigrator,
    private readonly role: RuntimeRole,
  ) {}

  async runIfPending(): Promise<void> {
    if (!this.deployment.needsUpgrade) {
      if (this.deployment.layoutOutdated) await this.relayout();
      return;
    }
    const tenants = this.catalog.list();
    let renamed = 0;
    for (const strategy of this.strategies.all())
      renamed += await strategy.adoptUnkeyed(tenants.filter((t) => t.strategy === strategy.model));
    await this.relayout();
    const unused = this.deployment.previousRoles.filter((r) => r !== this.role.name);
    await this.deployment.upgradeDone();
    this.logger.log(
      `upgraded to deployment key "${this.deployment.key}": ${renamed} tenant databases renamed, runtime role "${this.role.name}"` +
        (unused.length
          ? `; this deployment no longer uses the role ${unused.map((r) => `"${r}"`).join(', ')}: drop it once no other deployment does`
          : ''),
    );
  }

  /**
   * Migrates every location again, even those the ledger records as current: that lays out what
   * the kit keeps there (the move fence) and grants the deployment's runtime role its DML. A tenant
   * that fails is logged and left to `migrate`; the others go on.
   */
  private async relayout(): Promise<void> {
    for (const strategy of this.strategies.all()) {
      const common = strategy.commonPlace();
      if (common && (await this.migrator.ownership(common.location)) === 'ours') await this.migrator.migrate(common.location);
    }
    let failed = 0;
    for (const tenant of this.catalog.list().filter((t) => this.strategies.hasOwnLedgerEntry(t))) {
      try {
        await this.migrator.migrate(this.strategies.for(tenant.strategy).location(tenant), tenant.id);
      } catch (err) {
        failed++;
        this.logger.warn(`upgrade: tenant ${tenant.id} was not migrated: ${errorMessage(err)}`);
      }
    }
    if (!failed) await this.deployment.layoutDone();
  }
}
