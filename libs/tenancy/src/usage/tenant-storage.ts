import { Inject, Injectable } from '@nestjs/common';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenantInspector } from '../lifecycle/tenant-inspector';

/**
 * Bytes each tenant holds, per model, read on demand (never on the request path) and kept for
 * `usage.storageCacheMillis` (default 60 s), one read at a time:
 *
 * - schema model: the sum of `pg_total_relation_size` (table, indexes, TOAST) of the tables of
 *   the tenant's schema;
 * - database model: `pg_database_size` of the tenant's database;
 * - shared model: the tenant's row share of each shared table, `rows of the tenant / all rows ×
 *   pg_total_relation_size(table)`, summed over the tables (rows counted with `count(*) GROUP BY
 *   tenant_id`, which needs an owner that bypasses row-level security: a superuser or BYPASSRLS
 *   role; null for every shared tenant otherwise). Indexes and dead tuples are shared out by rows
 *   too, so a tenant with wide rows is under-counted and one with narrow rows over-counted.
 *
 * See PostgreSQL's "Database Object Size Functions" (`pg_total_relation_size`, `pg_database_size`).
 * The figures come from `TenantInspector.list`.
 */
@Injectable()
export class TenantStorage {
  private cached?: { at: number; sizes: Promise<Map<string, number | null>> };

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly inspector: TenantInspector,
  ) {}

  /**
   * Bytes per tenant id (null where unknown), at most `usage.storageCacheMillis` old.
   * @throws the database's error when the sizes cannot be read (nothing is cached then).
   */
  sizes(): Promise<Map<string, number | null>> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > this.options.usage.storageCacheMillis) {
      const sizes = this.inspector.list().then((list) => new Map(list.map((t) => [t.id, t.sizeBytes])));
      const entry = { at: now, sizes };
      this.cached = entry;
      sizes.catch(() => {
        if (this.cached === entry) this.cached = undefined;
      });
    }
    return this.cached.sizes;
  }
}
