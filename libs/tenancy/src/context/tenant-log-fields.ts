import { ClsServiceManager } from 'nestjs-cls';
import type { IsolationModel } from '../core/isolation-model';
import type { TenantRecord } from '../core/tenant-record';
import { TENANT_CLS_KEY } from './tenant-context';

/** What a log line (or a span) says of the tenant it was made for. */
export interface TenantLogFields {
  /** The tenant's id. */
  tenant: string;
  /** Its isolation model: `shared`, `schema` or `database`. */
  model: IsolationModel;
  /** Its tier, when it has one. */
  tier?: string;
}

const FIELDS = new WeakMap<TenantRecord, TenantLogFields>();

/** The fields of `record`, made once per catalog record (a record is replaced, never changed). */
export function fieldsOf(record: TenantRecord): TenantLogFields {
  let fields = FIELDS.get(record);
  if (!fields) {
    fields = record.tier ? { tenant: record.id, model: record.strategy, tier: record.tier } : { tenant: record.id, model: record.strategy };
    FIELDS.set(record, Object.freeze(fields));
  }
  return fields;
}

/**
 * The tenant of the current unit of work (an HTTP request after its tenant was resolved, or a
 * `TenancyService.run`), as fields for a log line; `undefined` outside one. Works without Nest's
 * injector, so a logger can call it on every line: pino's `mixin: () => ({ ...tenantLogFields() })`
 * (a copy: pino adds the line's fields to what its mixin returns). Cheap: one read of the async
 * context; the object is frozen and cached per tenant record.
 */
export function tenantLogFields(): TenantLogFields | undefined {
  const cls = ClsServiceManager.getClsService();
  if (!cls.isActive()) return undefined;
  const record = cls.get(TENANT_CLS_KEY) as TenantRecord | undefined;
  return record ? fieldsOf(record) : undefined;
}
