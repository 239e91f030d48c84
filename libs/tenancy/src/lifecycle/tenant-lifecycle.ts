import { Injectable, Logger } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { quoteIdent, TenantNaming } from '../catalog/tenant-naming';
import { TenantRecord } from '../catalog/tenant-record';
import { ControlLocks } from '../catalog/control-locks';
import { Deployment } from '../catalog/deployment';
import { OwnerConnections } from '../data-source/owner-connections';
import { PoolRegistry } from '../data-source/pool-registry';
import { TenantStateError, UnknownTenantError } from '../errors/tenancy.errors';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { MigrationLedger } from './migration-ledger';
import { moveLockKey } from './move-lock';
import { tenantTables } from './tenant-tables';

/** Suspend, resume and delete: the state changes of a tenant after it is provisioned. */
@Injectable()
export class TenantLifecycle {
  private readonly logger = new Logger('TenantLifecycle');

  constructor(
    private readonly catalog: TenantCatalog,
    private readonly strategies: IsolationStrategies,
    private readonly owner: OwnerConnections,
    private readonly registry: PoolRegistry,
    private readonly ledger: MigrationLedger,
    private readonly naming: TenantNaming,
    private readonly locks: ControlLocks,
    private readonly deployment: Deployment,
  ) {}

  require(id: string): TenantRecord {
    const tenant = this.catalog.get(id);
    if (!tenant) throw new UnknownTenantError(id);
    return tenant;
  }

  /** Every instance answers the tenant's requests with 403 from the moment its catalog hears of it. */
  async suspend(id: string): Promise<TenantRecord> {
    const tenant = this.require(id);
    if (tenant.status !== 'active' && tenant.status !== 'suspended') throw new TenantStateError(`Tenant '${id}' is ${tenant.status}; only an active tenant can be suspended.`);
    return (await this.catalog.setStatus(id, 'suspended'))!;
  }

  async resume(id: string): Promise<TenantRecord> {
    const tenant = this.require(id);
    if (tenant.status !== 'suspended' && tenant.status !== 'active') throw new TenantStateError(`Tenant '${id}' is ${tenant.status}; only a suspended tenant can be resumed.`);
    return (await this.catalog.setStatus(id, 'active'))!;
  }

  /**
   * Deletes every row of the tenant wherever it lives (drops its schema or database, or deletes its
   * rows from the shared tables) and then removes it from the catalog. Asks for an export first
   * unless `force`. Marked `deleting` first, so it is no longer served, and safe to run again.
   */
  async remove(id: string, options: { force?: boolean } = {}): Promise<void> {
    const tenant = this.require(id);
    if (tenant.status === 'moving') throw new TenantStateError(`Tenant '${id}' is being moved; delete it once the move is done.`);
    if (!tenant.exportedAt && !options.force && tenant.status !== 'deleting') {
      throw new TenantStateError(`Tenant '${id}' was never exported: export it first (TenantExporter.export), or delete with force.`);
    }
    // The lock every move of the tenant holds: no move runs (or starts) while the tenant is deleted.
    await this.locks.withLock(
      moveLockKey(id),
      async () => {
        await this.catalog.setStatus(id, 'deleting');
        await this.dropData(tenant);
        // A move that did not finish (its mover killed, or its verification failed) may have left
        // the tenant's rows at its other end: they go too.
        for (const place of await this.unfinishedMoveEnds(id)) {
          if (place.strategy !== tenant.strategy || place.server !== tenant.server) await this.dropData({ id, ...place });
        }
        // A move out of the shared tables leaves the tenant fenced there: that row goes too.
        await this.strategies.for('shared').unfence({ id, server: 'default' });
        await this.ledger.forget(id);
        await this.catalog.remove(id);
      },
      () => {
        throw new TenantStateError(`Tenant '${id}' is being moved; delete it once the move is done.`);
      },
    );
    this.logger.log(`tenant ${id} deleted (${tenant.strategy})`);
  }

  /** Both ends of a move of the tenant that is still recorded (a finished move removes its record). */
  private async unfinishedMoveEnds(id: string): Promise<Pick<TenantRecord, 'strategy' | 'server'>[]> {
    const ds = await this.owner.controlDataSource();
    const rows: { ss: TenantRecord['strategy']; sv: string; ts: TenantRecord['strategy']; tv: string }[] = await ds.query(
      `SELECT source_strategy AS ss, source_server AS sv, target_strategy AS ts, target_server AS tv
         FROM ${quoteIdent(this.naming.controlSchema)}.tenant_moves WHERE tenant_id = $1`,
      [id],
    );
    return rows.flatMap((r) => [
      { strategy: r.ss, server: r.sv },
      { strategy: r.ts, server: r.tv },
    ]);
  }

  /**
   * Removes the tenant's data from one location (used by delete, and by a move for its source and
   * for what a failed move left at its target). A schema or database goes whole, with its fence
   * table, and only when it carries this deployment's mark; in the shared tables the tenant's fence
   * row goes too unless `keepFence` (a move's source stays fenced after the switch).
   * @throws DeploymentOwnershipError when it exists without this deployment's mark (nothing is dropped).
   */
  async dropData(tenant: Pick<TenantRecord, 'id' | 'strategy' | 'server'>, options: { keepFence?: boolean } = {}): Promise<void> {
    const location = this.strategies.for(tenant.strategy).location(tenant);
    if (tenant.strategy === 'database') {
      if ((await this.deployment.checkDatabase(location.server, location.database)) === 'absent') return;
      await this.registry.closeIdle(tenant.id);
      await this.owner.withDatabase(location.server, this.owner.homeDatabase(location.server), (ds) =>
        ds.query(`DROP DATABASE IF EXISTS ${quoteIdent(location.database)} WITH (FORCE)`),
      );
    } else if (tenant.strategy === 'schema') {
      if ((await this.deployment.checkSchema(location.schema)) === 'absent') return;
      const ds = await this.owner.controlDataSource();
      await ds.query(`DROP SCHEMA IF EXISTS ${quoteIdent(location.schema)} CASCADE`);
    } else {
      const ds = await this.owner.controlDataSource();
      await ds.transaction(async (m) => {
        await m.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenant.id]);
        for (const table of (await tenantTables(m, location.schema)).reverse()) {
          await m.query(`DELETE FROM ${quoteIdent(location.schema)}.${quoteIdent(table.name)} WHERE tenant_id = $1`, [tenant.id]);
        }
      });
      if (!options.keepFence) await this.strategies.for('shared').unfence(tenant);
    }
  }
}
