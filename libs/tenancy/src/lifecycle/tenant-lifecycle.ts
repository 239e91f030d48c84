import { Injectable, Logger } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { TenantRecord } from '../core/tenant-record';
import { ControlLocks } from '../catalog/control-locks';
import { MoveJournal } from '../catalog/move-journal';
import { SeedRecords } from '../catalog/seed-records';
import { TenantLifecycleHooks } from '../catalog/tenant-lifecycle-hooks';
import { TenantStateError, UnknownTenantError } from '../errors/tenancy.errors';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { MigrationLedger } from '../migrations/migration-ledger';
import { moveLockKey } from './move-lock';
import { TenantKeyring } from '../encryption/tenant-keyring';
import { ExportFreshness } from './export-freshness';

/** Suspend, resume and delete: the state changes of a tenant after it is provisioned. */
@Injectable()
export class TenantLifecycle {
  private readonly logger = new Logger('TenantLifecycle');

  constructor(
    private readonly catalog: TenantCatalog,
    private readonly strategies: IsolationStrategies,
    private readonly journal: MoveJournal,
    private readonly ledger: MigrationLedger,
    private readonly locks: ControlLocks,
    private readonly seedRecords: SeedRecords,
    private readonly hooks: TenantLifecycleHooks,
    private readonly keyring: TenantKeyring,
    private readonly freshness: ExportFreshness,
  ) {}

  require(id: string): TenantRecord {
    const tenant = this.catalog.get(id);
    if (!tenant) throw new UnknownTenantError(id);
    return tenant;
  }

  /**
   * Every instance answers the tenant's requests with 403 from the moment its catalog hears of it.
   * Then the lifecycle listeners forget what they keep of it (the tenant cache is emptied).
   * @throws TenantLifecycleHookError when a listener failed (the suspension holds; run it again).
   */
  async suspend(id: string): Promise<TenantRecord> {
    const tenant = this.require(id);
    if (tenant.status !== 'active' && tenant.status !== 'suspended')
      throw new TenantStateError(`Tenant '${id}' is ${tenant.status}; only an active tenant can be suspended.`);
    const suspended = (await this.catalog.setStatus(id, 'suspended'))!;
    await this.hooks.emit({ tenantId: id, kind: 'suspended' });
    return suspended;
  }

  async resume(id: string): Promise<TenantRecord> {
    const tenant = this.require(id);
    if (tenant.status !== 'suspended' && tenant.status !== 'active')
      throw new TenantStateError(`Tenant '${id}' is ${tenant.status}; only a suspended tenant can be resumed.`);
    return (await this.catalog.setStatus(id, 'active'))!;
  }

  /**
   * Deletes every row of the tenant wherever it lives (drops its schema or database, or deletes its
   * rows from the shared tables) and then removes it from the catalog. Marked `deleting` first, so
   * it is no longer served, and safe to run again. Unless `force`, asks for an export that holds
   * every row: once no new unit of work starts (the tenant is `deleting`), when a row of the tenant
   * was inserted or updated by a transaction the last export's snapshot did not see (ExportFreshness;
   * an export that predates the kit keeping its snapshot, was made under Citus, or was followed by a
   * move counts as stale), the tenant goes back to its status and nothing is deleted.
   * A deleted tenant stays deleted even if the tenants file lists it (provisioning it explicitly
   * brings it back, empty). Its data keys are destroyed first (crypto-shredding): from then on its
   * encrypted values cannot be decrypted, not even from a backup taken before. Once the rows are gone and before
   * the tenant leaves the catalog, the lifecycle listeners forget it (the tenant cache is emptied):
   * when one fails, the delete stops there with TenantLifecycleHookError, the tenant stays `deleting`
   * (not served), and running the delete again finishes it (without the export check).
   * @throws TenantStateError (409) when the tenant is being moved, was never exported, or was
   * written after its last export (and not `force`).
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
        if (!options.force && tenant.status !== 'deleting') await this.refuseStaleExport(tenant);
        await this.keyring.destroy(id);
        await this.strategies.for(tenant.strategy).drop(tenant);
        // A move that did not finish (its mover killed, or its verification failed) may have left
        // the tenant's rows at its other end: they go too.
        for (const end of await this.journal.ends(id)) {
          if (end.strategy !== tenant.strategy || end.server !== tenant.server)
            await this.strategies.for(end.strategy).drop({ id, server: end.server });
        }
        // A move out of a place other tenants share leaves the tenant fenced there: that row goes too.
        for (const strategy of this.strategies.all().filter((s) => s.commonPlace())) await strategy.unfence({ id, server: 'default' });
        await this.ledger.forget(id);
        // Not done while a cache could still serve its old values: a failure stops the delete here.
        await this.hooks.emit({ tenantId: id, kind: 'deleted' });
        // Before it leaves the catalog: the tenants file must not bring it back at the next start.
        await this.seedRecords.recordDeleted(id);
        await this.catalog.remove(id);
      },
      () => {
        throw new TenantStateError(`Tenant '${id}' is being moved; delete it once the move is done.`);
      },
    );
    this.logger.log(`tenant ${id} deleted (${tenant.strategy})`);
  }

  /** Puts the tenant back to its status and throws when its last export may miss a row. */
  private async refuseStaleExport(tenant: TenantRecord): Promise<void> {
    let stale: boolean;
    try {
      stale = await this.freshness.writtenSinceExport(tenant);
    } catch (err) {
      await this.catalog.setStatus(tenant.id, tenant.status);
      throw err;
    }
    if (!stale) return;
    await this.catalog.setStatus(tenant.id, tenant.status);
    throw new TenantStateError(
      `Tenant '${tenant.id}' was written after its last export at ${tenant.exportedAt?.toISOString() ?? 'none'}: export it again, or delete with force.`,
    );
  }
}
