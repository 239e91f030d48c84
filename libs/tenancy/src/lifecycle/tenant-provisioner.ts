import { Inject, Injectable, Logger } from '@nestjs/common';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { TenantRecord } from '../core/tenant-record';
import { IsolationModel, ResolvedTenancyOptions, TenantDefinition, TENANCY_OPTIONS } from '../config/tenancy-options';
import { DeploymentOwnershipError, InvalidTenantDefinitionError } from '../errors/tenancy.errors';
import { isValidTenantId } from '../core/tenant-id';
import { IsolationStrategies } from '../strategies/isolation-strategies';
import { MigrationLedger } from '../migrations/migration-ledger';
import { TenantMigrations } from './tenant-migrations';

/**
 * Makes tenants ready to serve. A tenant is recorded as `provisioning` first and only marked
 * `active` once its schema or database exists and is migrated, so a half-made tenant is never
 * served, and provisioning again finishes it.
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

  async provision(def: TenantDefinition): Promise<TenantRecord> {
    if (!isValidTenantId(def.id))
      throw new InvalidTenantDefinitionError(
        `Tenant id '${String(def.id).slice(0, 60)}' is malformed: use 1 to 40 characters of a-z, 0-9 and '-'.`,
      );
    const model = this.modelOf(def);
    const place = this.strategies.placeOf({ strategy: model, server: def.server || undefined });
    const record = await this.catalog.insertIfMissing({ id: def.id, name: def.name, tier: def.tier ?? null, ...place });
    if (record.strategy !== model) {
      this.logger.warn(
        `tenant ${record.id} is served by the ${record.strategy} model, its definition says ${model}: moving a tenant is an explicit operation`,
      );
    }
    const strategy = this.strategies.for(record.strategy);
    try {
      await strategy.provision(record);
    } catch (err) {
      // What is in the way belongs to someone else: retrying cannot help, so nothing is left recorded.
      if (err instanceof DeploymentOwnershipError && record.status === 'provisioning') await this.catalog.remove(record.id);
      throw err;
    }
    // A place of its own has its own ledger entry; a common place's is recorded by seed and migrations.
    if (this.strategies.hasOwnLedgerEntry(record)) await this.ledger.recordCurrent(record.id, record.server, this.migrations.latest);
    if (record.status === 'provisioning') return (await this.catalog.setStatus(record.id, 'active'))!;
    return record;
  }

  /** Provisions the places tenants share (the shared tables) and every tenant of the configuration file. */
  async seed(): Promise<TenantRecord[]> {
    for (const strategy of this.strategies.all()) {
      const common = await strategy.provisionCommon();
      if (common) await this.ledger.recordCurrent(common.target, common.location.server, this.migrations.latest);
    }
    const out: TenantRecord[] = [];
    for (const def of this.options.catalog.tenants) out.push(await this.provision(def));
    return out;
  }
}
