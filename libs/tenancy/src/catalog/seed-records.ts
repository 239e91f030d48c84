import { Injectable } from '@nestjs/common';
import { OwnerConnections } from '../connections/owner-connections';
import { quoteIdent } from '../core/sql';
import { TenantNaming } from './tenant-naming';

/**
 * What seeding from the tenants file must remember in the control database, so that the catalog
 * stays the truth once a tenant is in it: the tenants deleted since (`deleted_tenants`: seeding
 * does not recreate them) and, per tenant, the last difference between the file and the catalog
 * that was reported (`seed_reports`: reported once, not at every start).
 */
@Injectable()
export class SeedRecords {
  constructor(
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
  ) {}

  private table(name: 'deleted_tenants' | 'seed_reports'): string {
    return `${quoteIdent(this.naming.controlSchema)}.${name}`;
  }

  /** The ids deleted (and not provisioned again since), with when. */
  async deleted(): Promise<Map<string, Date>> {
    const ds = await this.owner.controlDataSource();
    const rows: { id: string; deletedAt: Date }[] = await ds.query(
      `SELECT id, deleted_at AS "deletedAt" FROM ${this.table('deleted_tenants')}`,
    );
    return new Map(rows.map((r) => [r.id, r.deletedAt]));
  }

  /** Records that the tenant was deleted: seeding from the file will not recreate it. */
  async recordDeleted(id: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`INSERT INTO ${this.table('deleted_tenants')} (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET deleted_at = now()`, [id]);
  }

  /** Takes the tenant off the deleted list (it is being provisioned again, explicitly) and forgets its reports. */
  async forgetDeleted(id: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`DELETE FROM ${this.table('deleted_tenants')} WHERE id = $1`, [id]);
    await ds.query(`DELETE FROM ${this.table('seed_reports')} WHERE tenant_id = $1`, [id]);
  }

  /** The last report per tenant. */
  async reports(): Promise<Map<string, string>> {
    const ds = await this.owner.controlDataSource();
    const rows: { id: string; report: string }[] = await ds.query(`SELECT tenant_id AS id, report FROM ${this.table('seed_reports')}`);
    return new Map(rows.map((r) => [r.id, r.report]));
  }

  /**
   * Records `report` as the tenant's last one; resolves to true when it is new (another instance
   * starting at the same moment may have recorded the same one first: then false, and only that
   * instance says it).
   */
  async recordReport(id: string, report: string): Promise<boolean> {
    const ds = await this.owner.controlDataSource();
    const rows: unknown[] = await ds.query(
      `INSERT INTO ${this.table('seed_reports')} (tenant_id, report) VALUES ($1, $2)
       ON CONFLICT (tenant_id) DO UPDATE SET report = EXCLUDED.report, reported_at = now()
         WHERE ${this.table('seed_reports')}.report IS DISTINCT FROM EXCLUDED.report
       RETURNING tenant_id`,
      [id, report],
    );
    return rows.length > 0;
  }

  /** Forgets the tenant's report (the file and the catalog agree again: a new difference is reported anew). */
  async clearReport(id: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`DELETE FROM ${this.table('seed_reports')} WHERE tenant_id = $1`, [id]);
  }
}
