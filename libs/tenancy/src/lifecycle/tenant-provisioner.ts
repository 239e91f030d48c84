import { Inject, Injectable, Logger } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { SeedRecords } from '../catalog/seed-records';
import { TenantRecord } from '../core/tenant-record';
import { IsolationModel, ResolvedTenancyOptions, TenantDefinition, TENANCY_OPTIONS } from '../config/tenancy-options';
import { DeploymentOwnershipError, InvalidTenantDefinitionError } from '../errors/tenancy.errors';
import { isValidTenantId } from '../core/tenant-id';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { MigrationLedger } from '../migrations/migration-ledger';
import { TenantMigrations } from './tenant-migrations';
import { TenantKeyring } from '../encryption/tenant-keyring';

/**
 * Makes tenants ready to serve. A tenant is recorded as `provisioning` first and only marked
 * `active` once its schema or database exists and is migrated, so a half-made tenant is never
 * served, and provisioning again finishes it.
 *
 * The tenants file only seeds the catalog: once a tenant is in it, the catalog is the truth. A
 * tenant deleted since is not recreated by seeding, and where the file and the catalog differ (a
 * tenant moved, or its tier changed) the catalog is kept and the difference is logged once, with
 * how to reconcile, not at every start.
 */
@Injectable()
export class TenantProvisioner {
  private readonly logger = new Logger('TenantProvisioner');

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly catalog: TenantCatalog,
    private readonly strategies: IsolationStrategies,
    private readonly ledger: MigrationLedger,
    private readonly migrations: TenantMigrations,
    private readonly seedRecords: SeedRecords,
    private readonly keyring: TenantKeyring,
  ) {}

  modelOf(def: Pick<TenantDefinition, 'tier' | 'strategy' | 'id'>): IsolationModel {
    if (def.tier && !this.options.catalog.tiers[def.tier]) {
      throw new InvalidTenantDefinitionError(
        `Unknown tier '${def.tier}'; known tiers: ${Object.keys(this.options.catalog.tiers).join(', ')}.`,
      );
    }
    const model = def.strategy ?? (def.tier ? this.options.catalog.tiers[def.tier].strategy : undefined);
    if (!model) throw new InvalidTenantDefinitionError(`Tenant '${def.id}' names neither a tier nor a strategy.`);
    return model;
  }

  /**
   * Creates the tenant, or finishes or re-checks it when it exists (safe to retry). A tenant that
   * was deleted is brought back: it comes off the deleted list, so seeding keeps it from then on.
   * @throws InvalidTenantDefinitionError for a malformed id, an unknown tier, or neither tier nor
   * strategy; DeploymentOwnershipError when its schema or database belongs to someone else.
   */
  async provision(def: TenantDefinition): Promise<TenantRecord> {
    if (!isValidTenantId(def.id))
      throw new InvalidTenantDefinitionError(
        `Tenant id '${String(def.id).slice(0, 60)}' is malformed: use 1 to 40 characters of a-z, 0-9 and '-'.`,
      );
    const model = this.modelOf(def);
    await this.seedRecords.forgetDeleted(def.id);
    const record = await this.insert(def, model);
    if (record.strategy !== model) {
      this.logger.warn(
        `tenant ${record.id} is served by the ${record.strategy} model, its definition says ${model}: moving a tenant is an explicit operation`,
      );
    }
    return this.finish(record);
  }

  private insert(def: TenantDefinition, model: IsolationModel): Promise<TenantRecord> {
    const place = this.strategies.placeOf({ strategy: model, server: def.server || undefined });
    return this.catalog.insertIfMissing({ id: def.id, name: def.name, tier: def.tier ?? null, ...place });
  }

  /** Creates (or re-checks) the tenant's schema or database where the catalog says, migrated; then marks it active. */
  private async finish(record: TenantRecord): Promise<TenantRecord> {
    const strategy = this.strategies.for(record.strategy);
    try {
      await strategy.provision(record);
    } catch (err) {
      // What is in the way belongs to someone else: retrying cannot help, so nothing is left recorded.
      if (err instanceof DeploymentOwnershipError && record.status === 'provisioning') await this.catalog.remove(record.id);
      throw err;
    }
    // Its data key, before it is served (a tenant from before encryption gets one on first use).
    if (record.status === 'provisioning') await this.keyring.ensure(record.id);
    // A place of its own has its own ledger entry; a common place's is recorded by seed and migrations.
    if (this.strategies.hasOwnLedgerEntry(record)) await this.ledger.recordCurrent(record.id, record.server, this.migrations.latest);
    if (record.status === 'provisioning') return (await this.catalog.setStatus(record.id, 'active'))!;
    return record;
  }

  /**
   * Provisions the places tenants share (the shared tables) and the tenants of the configuration
   * file: one not in the catalog is created; one in it is served as the catalog says (its schema
   * or database re-checked), a difference from the file logged once; one deleted since is left
   * deleted (logged once). Resolves to the file's tenants that are in the catalog.
   */
  async seed(): Promise<TenantRecord[]> {
    for (const strategy of this.strategies.all()) {
      const common = await strategy.provisionCommon();
      if (common) await this.ledger.recordCurrent(common.target, common.location.server, this.migrations.latest);
    }
    const deleted = await this.seedRecords.deleted();
    const reported = await this.seedRecords.reports();
    const out: TenantRecord[] = [];
    for (const def of this.options.catalog.tenants) {
      const deletedAt = deleted.get(def.id);
      if (deletedAt) {
        await this.reportOnce(
          def.id,
          reported,
          'deleted',
          `tenant ${def.id} of the tenants file was deleted (${new Date(deletedAt).toISOString()}) and stays deleted: ` +
            `remove it from the file, or provision it again to bring it back (empty)`,
        );
        continue;
      }
      const existing = this.catalog.get(def.id);
      if (!existing || existing.status === 'provisioning') {
        out.push(await this.finish(existing ?? (await this.insert(def, this.modelOf(def)))));
        continue;
      }
      const drift = this.driftOf(def, existing);
      if (drift) {
        await this.reportOnce(
          def.id,
          reported,
          `${drift.file} | ${drift.catalog}`,
          `tenant ${def.id}: the tenants file says ${drift.file}, the catalog says ${drift.catalog}; the catalog is what is served. ` +
            `To reconcile, edit the file to say what the catalog says, or move the tenant (and set its tier) to what the file says. Said once.`,
        );
      } else if (reported.has(def.id)) {
        await this.seedRecords.clearReport(def.id);
      }
      out.push(existing.status === 'deleting' ? existing : await this.finish(existing));
    }
    return out;
  }

  /** What the file and the catalog say of the tenant (model, server, tier) when they differ, else undefined. */
  private driftOf(def: TenantDefinition, record: TenantRecord): { file: string; catalog: string } | undefined {
    const model = this.modelOf(def);
    const place = this.strategies.placeOf({ strategy: model, server: def.server || undefined });
    const file = { strategy: model, server: place.server, tier: def.tier ?? null };
    if (file.strategy === record.strategy && file.server === record.server && file.tier === (record.tier ?? null)) return undefined;
    const say = (p: { strategy: string; server: string; tier: string | null }) =>
      `${p.strategy} model${p.strategy === 'database' ? ` on server ${p.server}` : ''}, tier ${p.tier ?? 'none'}`;
    return { file: say(file), catalog: say({ strategy: record.strategy, server: record.server, tier: record.tier ?? null }) };
  }

  /** Logs `message` unless `report` is what was last reported for the tenant (by any instance). */
  private async reportOnce(id: string, reported: Map<string, string>, report: string, message: string): Promise<void> {
    if (reported.get(id) === report) return;
    if (await this.seedRecords.recordReport(id, report)) this.logger.warn(message);
  }
}
