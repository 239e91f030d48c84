import { Injectable, Logger } from '@nestjs/common';
import { Deployment, SCHEMA_MARK } from '../catalog/deployment';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { quoteIdent, TenantNaming } from '../catalog/tenant-naming';
import { TenantRecord } from '../catalog/tenant-record';
import { OwnerConnections } from '../data-source/owner-connections';
import { RuntimeRole } from '../data-source/runtime-role';
import { pgErrorCode } from '../errors/pg-error-code';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { TenantMigrator } from '../migrations/tenant-migrator';

/** SQLSTATE object_in_use: a database with sessions cannot be renamed. */
const OBJECT_IN_USE = '55006';

/**
 * The upgrade of a deployment started by a version without deployment keys, run once at start
 * (and again after an interrupted run) before any request is served:
 * - each database-model tenant's database `<prefix><tenant>` is renamed to
 *   `<prefix><key>_<tenant>` and marked, unless another deployment marked it first (then it is
 *   left alone, and the tenant's provisioning says so);
 * - the shared schema and each tenant schema (inside the deployment's own control database, so
 *   their names do not change) get the mark;
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
    private readonly naming: TenantNaming,
    private readonly owner: OwnerConnections,
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
    for (const tenant of tenants.filter((t) => t.strategy === 'database')) {
      await this.role.ensureOn(tenant.server);
      if (await this.renameDatabase(tenant)) renamed++;
    }
    const schemas = [this.naming.sharedSchema, ...tenants.filter((t) => t.strategy === 'schema').map((t) => this.naming.schemaFor(t.id))];
    for (const schema of schemas) {
      const ds = await this.owner.controlDataSource();
      const [row] = await ds.query(`SELECT ${SCHEMA_MARK} AS mark FROM pg_namespace WHERE nspname = $1`, [schema]);
      if (row && row.mark === null) await this.deployment.markSchema(schema);
    }
    await this.relayout();
    const unused = this.deployment.previousRoles.filter((r) => r !== this.role.name);
    await this.deployment.upgradeDone();
    this.logger.log(
      `upgraded to deployment key "${this.deployment.key}": ${renamed} tenant databases renamed, runtime role "${this.role.name}"` +
        (unused.length ? `; this deployment no longer uses the role ${unused.map((r) => `"${r}"`).join(', ')}: drop it once no other deployment does` : ''),
    );
  }

  /**
   * Migrates every location again, even those the ledger records as current: that lays out what
   * the kit keeps there (the move fence) and grants the deployment's runtime role its DML. A tenant
   * that fails is logged and left to `migrate`; the others go on.
   */
  private async relayout(): Promise<void> {
    const shared = this.strategies.for('shared').location({ id: 'shared', server: 'default' });
    if ((await this.deployment.checkSchema(shared.schema)) === 'ours') await this.migrator.migrate(shared);
    let failed = 0;
    for (const tenant of this.catalog.list().filter((t) => t.strategy !== 'shared')) {
      try {
        await this.migrator.migrate(this.strategies.for(tenant.strategy).location(tenant), tenant.id);
      } catch (err) {
        failed++;
        this.logger.warn(`upgrade: tenant ${tenant.id} was not migrated: ${(err as Error).message}`);
      }
    }
    if (!failed) await this.deployment.layoutDone();
  }

  /** Renames the tenant's unkeyed database to its keyed name and marks it; false when there is nothing to rename. */
  private async renameDatabase(tenant: TenantRecord): Promise<boolean> {
    const legacy = this.naming.legacyDatabaseFor(tenant.id);
    const current = this.naming.databaseFor(tenant.id);
    return this.owner.withDatabase(tenant.server, this.owner.homeDatabase(tenant.server), async (ds) => {
      if ((await this.deployment.databaseMark(ds, current)) !== undefined) return false;
      const mark = await this.deployment.databaseMark(ds, legacy);
      if (mark === undefined) return false;
      if (mark !== null) {
        this.logger.warn(`upgrade: database "${legacy}" of tenant ${tenant.id} on server "${tenant.server}" is not renamed: it ${this.deployment.describe(mark)}`);
        return false;
      }
      for (let attempt = 1; ; attempt++) {
        await ds.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [legacy]);
        try {
          await ds.query(`ALTER DATABASE ${quoteIdent(legacy)} RENAME TO ${quoteIdent(current)}`);
          break;
        } catch (err) {
          if (pgErrorCode(err) !== OBJECT_IN_USE || attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await this.deployment.markDatabase(ds, current);
      await ds.query(`REVOKE ALL ON DATABASE ${quoteIdent(current)} FROM PUBLIC`);
      await ds.query(`GRANT CONNECT ON DATABASE ${quoteIdent(current)} TO ${quoteIdent(this.role.name)}`);
      return true;
    });
  }
}
