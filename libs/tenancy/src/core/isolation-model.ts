/**
 * The three ways to isolate a tenant (the pool / bridge / silo models of the SaaS literature):
 * `shared` tables with row-level security, a `schema` per tenant, a `database` per tenant.
 */
export type IsolationModel = 'shared' | 'schema' | 'database';
export const ISOLATION_MODELS: readonly IsolationModel[] = ['shared', 'schema', 'database'];
