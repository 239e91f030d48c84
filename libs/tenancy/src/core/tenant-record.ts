import type { IsolationModel } from './isolation-model';

export type TenantStatus = 'provisioning' | 'active' | 'suspended' | 'moving' | 'deleting';

/** A tenant as the catalog knows it. */
export interface TenantRecord {
  id: string;
  name: string;
  tier: string | null;
  strategy: IsolationModel;
  /** Database model: the server holding the tenant's database. */
  server: string;
  status: TenantStatus;
  /** When the tenant was last exported in full (deletion asks for an export first). */
  exportedAt: Date | null;
  /**
   * The last export's snapshot on the tenant's server (`pg_snapshot` as text, `xmin:xmax:xip,...`):
   * a row written by a transaction it does not see is missing from the export. Null when there was
   * no export, the export predates this field or ran under Citus, or the tenant moved since.
   */
  exportedSnapshot: string | null;
  createdAt: Date;
  updatedAt: Date;
}
