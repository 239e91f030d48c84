import { quoteIdent, quoteLiteral } from '../core/sql';
import { FENCE_CHECK } from '../migrations/migration-runner';
import type { TransactionLimits } from '../config/tenancy-options';
import { isValidTenantId } from '../core/tenant-id';
import { transactionLimits } from './transaction-limits';

/**
 * The SELECT a unit of work runs right after `BEGIN` (see data-source/transaction-opener.ts, which
 * sends both with the unit's first query): the tenant settings, the time limits (`limits`, see
 * transaction-limits.ts) and the fence check, its LAST column (`fenced`). Both settings
 * are transaction-scoped (`set_config(..., true)`): they vanish at COMMIT or ROLLBACK, so a pooled
 * connection (or PgBouncer in transaction mode) can never carry one tenant's setting into another's
 * transaction. The values are not request input: the id comes from the catalog and is re-checked
 * against the strict id format here, and both are quoted.
 *
 * `pg_temp` is named last in the path: unnamed, PostgreSQL searches it FIRST for tables, so a
 * session-lived temporary table created in one tenant's transaction would shadow the real table of
 * every later tenant served by the same pooled connection (their reads and writes would hit it).
 *
 * The fence: `<schema>.tenancy_fenced(id)` (created by the migration runner beside the location's
 * `tenancy_fence` table) makes the transaction read-only when the location lists the tenant (a move
 * froze it, or it has moved away), so reads go on and any write fails with SQLSTATE 25006, whatever
 * this instance's catalog believes; its column `fenced` says so. No row is locked or written: a
 * READ COMMITTED snapshot sees every fence committed before the statement began.
 */
export function transactionPreamble(tenantId: string, schema: string, limits?: Required<TransactionLimits>): string {
  if (!isValidTenantId(tenantId)) throw new Error('refusing to build a preamble for an invalid tenant id');
  return (
    `SELECT set_config('app.tenant_id', ${quoteLiteral(tenantId)}, true), ` +
    `set_config('search_path', ${quoteLiteral(`${quoteIdent(schema)}, pg_temp`)}, true), ` +
    (limits ? `${transactionLimits(limits)}, ` : '') +
    fenceCheck(tenantId, schema)
  );
}

/** The column of the preamble that makes a fenced tenant's transaction read-only. */
export function fenceCheck(tenantId: string, schema: string): string {
  return `${quoteIdent(schema)}.${FENCE_CHECK}(${quoteLiteral(tenantId)}) AS fenced`;
}

/**
 * Citus mode: the statements sent right after `BEGIN`, before the preamble's SELECT, each as a
 * query of its own. Citus sends a `SET LOCAL` to the workers (at once to those already in the
 * transaction, and with the BEGIN of each worker transaction opened later) only when
 * `citus.propagate_set_commands` is `'local'`; a `set_config(...)` call, a role or a database
 * default never reaches them. It forwards the statement's whole query string, which is why each
 * goes alone: a multi-statement string holding `BEGIN` would start a nested transaction on the
 * workers. Every setting ends with the transaction. See Citus's "citus.propagate_set_commands".
 *
 * `more`: other settings the workers must see too (name -> value; names are the caller's
 * constants, values are quoted), such as the TimeZone a move renders rows in.
 */
export function citusPreamble(tenantId: string, more: Record<string, string> = {}): string[] {
  if (!isValidTenantId(tenantId)) throw new Error('refusing to build a preamble for an invalid tenant id');
  return [
    `SET LOCAL citus.propagate_set_commands = 'local'`,
    `SET LOCAL app.tenant_id = ${quoteLiteral(tenantId)}`,
    ...Object.entries(more).map(([name, value]) => `SET LOCAL ${name} = ${quoteLiteral(value)}`),
  ];
}
