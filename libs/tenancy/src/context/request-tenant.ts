import type { TenantRecord } from '../core/tenant-record';
import { nodeRequest } from '../core/node-http';
import type { UnitOfWork } from '../data-source/unit-of-work';
import { fieldsOf, type TenantLogFields } from './tenant-log-fields';

/** Where the resolution middleware leaves the request's tenant and unit of work. */
const TENANT_REQUEST_INFO = Symbol.for('nest-tenancy:request-info');

type Marked = { [TENANT_REQUEST_INFO]?: { record: TenantRecord; unit: UnitOfWork } };

/** What the library knows of a request's tenant: for a request log line or a metric's labels. */
export interface TenantRequestInfo extends TenantLogFields {
  /**
   * Milliseconds the request's unit of work has held (or waited for) a database connection: from
   * its first query to the end of its COMMIT or ROLLBACK. 0 for a request that made no query.
   */
  databaseMillis: number;
}

/** Marks Node's request with its tenant and unit of work (the resolution middleware does). */
export function markTenantRequest(req: object, record: TenantRecord, unit: UnitOfWork): void {
  (req as Marked)[TENANT_REQUEST_INFO] = { record, unit };
}

/**
 * The tenant a request was resolved to, with its model, tier and database time; `undefined` for a
 * request that has none (an excluded path such as `/health`, or one refused before its tenant was
 * known: missing, malformed or unknown id). `req`: Node's request or the platform's (Express's or
 * Fastify's). Read it once the response has ended (its `close` event) for the final database time.
 */
export function tenantRequestInfo(req: object): TenantRequestInfo | undefined {
  const marked = (nodeRequest(req) as Marked)[TENANT_REQUEST_INFO];
  if (!marked) return undefined;
  return { ...fieldsOf(marked.record), databaseMillis: marked.unit.databaseMillis };
}
