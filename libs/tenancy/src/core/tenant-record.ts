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
  createdAt: Date;
  updatedAt: Date;
}
