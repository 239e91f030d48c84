import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ControlLocks } from '../catalog/control-locks';
import { CONTROL_MIGRATIONS } from '../catalog/control-migrations';
import { Deployment } from '../catalog/deployment';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { TenantNaming } from '../catalog/tenant-naming';
import { quoteIdent } from '../core/sql';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenancyConfigError } from '../errors/tenancy.errors';
import { HomeDataSource } from '../pools/home-data-source';
import { OwnerConnections } from '../connections/owner-connections';
import { RuntimeRole } from '../catalog/runtime-role';
import { CitusMode } from '../connections/citus-mode';
import { DeploymentUpgrade } from './deployment-upgrade';
import { MigrationRunner } from '../migrations/migration-runner';
import { TenantProvisioner } from './tenant-provisioner';
import { TenantKeyring } from '../encryption/tenant-keyring';

/**
 * Start-up, in order: Citus mode (option `citus`, see CitusMode), control tables, the deployment's identity, runtime role, catalog (and its
 * listener), the upgrade from unkeyed names if one is pending, runtime pool, then the tenants of
 * the configuration file. Every step is safe to run from many instances at once.
 */
@Injectable()
export class TenancyBootstrap implements OnModuleInit {
  private readonly logger = new Logger('Tenancy');

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly owner: OwnerConnections,
    private readonly runner: MigrationRunner,
    private readonly naming: TenantNaming,
    private readonly role: RuntimeRole,
    private readonly home: HomeDataSource,
    private readonly catalog: TenantCatalog,
    private readonly provisioner: TenantProvisioner,
    private readonly deployment: Deployment,
    private readonly upgrade: DeploymentUpgrade,
    private readonly locks: ControlLocks,
    private readonly citus: CitusMode,
    private readonly keyring: TenantKeyring,
  ) {}

  /** See `TenancyModuleOptions.restrictControlDatabase`. */
  private async restrictControlDatabase(): Promise<void> {
    const ds = await this.owner.controlDataSource();
    const database = quoteIdent(this.owner.homeDatabase());
    await ds.query(`GRANT CONNECT ON DATABASE ${database} TO ${quoteIdent(this.role.name)}`);
    if (!this.options.restrictControlDatabase) return;
    const [row] = await ds.query(
      `SELECT has_database_privilege('public', current_database(), 'CONNECT') AS open,
              current_database() NOT IN ('postgres', 'template1')
              AND (datdba = (SELECT oid FROM pg_roles WHERE rolname = current_user) OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)) AS may
         FROM pg_database WHERE datname = current_database()`,
    );
    if (!row.open || !row.may) return;
    await ds.query(`REVOKE CONNECT ON DATABASE ${database} FROM PUBLIC`);
    this.logger.log(
      `the control database now admits only its owner and the runtime role; grant CONNECT to any other role that needs it (option restrictControlDatabase)`,
    );
  }

  /**
   * Requests (databaseUrl, possibly through a pooler) and session work (directUrl) must reach the
   * same database: anything else would serve tenants from one database while provisioning,
   * migrating and locking in another.
   */
  private async checkSameDatabase(): Promise<void> {
    // The server by its start time (any role may read it; addresses differ through a pooler).
    const sql = `SELECT current_database() AS name, pg_postmaster_start_time()::text AS server`;
    const [[viaRequests], [direct]] = await Promise.all([
      this.home.dataSource.query(sql),
      (await this.owner.controlDataSource()).query(sql),
    ]);
    if (viaRequests.name !== direct.name || viaRequests.server !== direct.server) {
      throw new TenancyConfigError('tenancy options', [
        `databaseUrl reaches database "${viaRequests.name}" but directUrl reaches "${direct.name}"${viaRequests.server !== direct.server ? ' on another server' : ''}: both must name the same database (directUrl bypasses the pooler only)`,
      ]);
    }
  }

  /** The control tables, under the lifecycle lock once its table exists (an advisory lock before). */
  private async migrateControl(): Promise<void> {
    const ds = await this.owner.controlDataSource();
    const [row] = await ds.query(`SELECT to_regclass($1) IS NOT NULL AS locks`, [`${quoteIdent(this.naming.controlSchema)}.locks`]);
    const apply = (lockedByCaller: boolean) =>
      this.runner.apply(ds, this.naming.controlSchema, CONTROL_MIGRATIONS, undefined, undefined, lockedByCaller);
    if (row.locks) await this.locks.withLock('migrate:control', () => apply(true));
    else await apply(false);
  }

  async onModuleInit(): Promise<void> {
    const started = Date.now();
    if (await this.citus.detect()) this.logger.log('Citus mode: the control database runs the citus extension (option citus)');
    await this.migrateControl();
    await this.deployment.init();
    // Before anything is served: the key-encryption keys given must unwrap the stored data keys.
    await this.keyring.verify();
    await this.role.ensureOn('default');
    await this.restrictControlDatabase();
    await this.catalog.start();
    await this.upgrade.runIfPending();
    await this.home.init();
    await this.checkSameDatabase();
    if (this.options.seedOnStart) {
      const tenants = await this.provisioner.seed();
      this.logger.log(
        `${tenants.length} tenants ready (${tenants.map((t) => `${t.id}:${t.strategy}`).join(', ')}) in ${Date.now() - started} ms`,
      );
    }
  }
}
