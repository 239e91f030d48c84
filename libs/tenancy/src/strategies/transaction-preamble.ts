import { quoteIdent, quoteLiteral } from '../catalog/tenant-naming';
import { isValidTenantId } from '../resolution/tenant-id';

/**
 * `BEGIN` and the tenant settings in one simple-protocol round trip. Both settings are
 * transaction-scoped (`set_config(..., true)`): they vanish at COMMIT or ROLLBACK, so a pooled
 * connection (or PgBouncer in transaction mode) can never carry one tenant's setting into another's
 * transaction. The values are not request input: the id comes from the catalog and is re-checked
 * against the strict id format here, and both are quoted.
 *
 * `pg_temp` is named last in the path: unnamed, PostgreSQL searches it FIRST for tables, so a
 * session-lived temporary table created in one tenant's transaction would shadow the real table of
 * every later tenant served by the same pooled connection (their reads and writes would hit it).
 */
export function transactionPreamble(tenantId: string, schema: string): string {
  if (!isValidTenantId(tenantId)) throw new Error('refusing to build a preamble for an invalid tenant id');
  return (
    `BEGIN; SELECT set_config('app.tenant_id', ${quoteLiteral(tenantId)}, true), ` +
    `set_config('search_path', ${quoteLiteral(`${quoteIdent(schema)}, pg_temp`)}, true)`
  );
}
