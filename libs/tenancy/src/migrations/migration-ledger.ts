import { Injectable } from '@nestjs/common';
import { TenantNaming } from '../catalog/tenant-naming';
import { quoteIdent } from '../core/sql';
import { OwnerConnections } from '../connections/owner-connections';

/** The ledger's name for the shared tables: not a valid tenant id, so it can never collide with one. */
export const SHARED_TARGET = '@shared';

export interface LedgerEntry {
  target: string;
  server: string;
  version: string | null;
  status: 'current' | 'failed';
  error: string | null;
  updatedAt: Date;
}

/** Reads and writes `migration_ledger` in the control database. */
@Injectable()
export class MigrationLedger {
  constructor(
    private readonly owner: OwnerConnections,
    private readonly naming: TenantNaming,
  ) {}

  private get table(): string {
    return `${quoteIdent(this.naming.controlSchema)}.migration_ledger`;
  }

  async all(): Promise<Map<string, LedgerEntry>> {
    const ds = await this.owner.controlDataSource();
    const rows: LedgerEntry[] = await ds.query(
      `SELECT target, server, version, status, error, updated_at AS "updatedAt" FROM ${this.table}`,
    );
    return new Map(rows.map((r) => [r.target, r]));
  }

  /** The version one target is on (null when it was never recorded). */
  async versionOf(target: string): Promise<string | null> {
    const ds = await this.owner.controlDataSource();
    const [row] = await ds.query(`SELECT version FROM ${this.table} WHERE target = $1`, [target]);
    return row?.version ?? null;
  }

  async recordCurrent(target: string, server: string, version: string | null): Promise<void> {
    await this.write(target, server, version, 'current', null);
  }

  async recordFailure(target: string, server: string, error: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    // A failure keeps the version last known to be applied.
    await ds.query(
      `INSERT INTO ${this.table} (target, server, version, status, error) VALUES ($1, $2, NULL, 'failed', $3)
       ON CONFLICT (target) DO UPDATE SET server = EXCLUDED.server, status = 'failed', error = EXCLUDED.error, updated_at = now()`,
      [target, server, error.slice(0, 2000)],
    );
  }

  async forget(target: string): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(`DELETE FROM ${this.table} WHERE target = $1`, [target]);
  }

  private async write(
    target: string,
    server: string,
    version: string | null,
    status: 'current' | 'failed',
    error: string | null,
  ): Promise<void> {
    const ds = await this.owner.controlDataSource();
    await ds.query(
      `INSERT INTO ${this.table} (target, server, version, status, error) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (target) DO UPDATE SET server = EXCLUDED.server, version = EXCLUDED.version, status = EXCLUDED.status,
         error = EXCLUDED.error, updated_at = now()`,
      [target, server, version, status, error],
    );
  }
}
