/** What the service's observability reads from its environment (see AppConfig). */
export interface ObservabilityConfig {
  /** Bearer token of GET /metrics; without it (and without `metricsPort`) /metrics is 404. */
  metricsToken?: string;
  /** Serve /metrics on this port only (the service's own port answers it with 404). */
  metricsPort?: number;
  /** Tenants labelled by id in the per-tenant series, busiest first; the rest are `other`. */
  topTenants: number;
}

export const OBSERVABILITY_CONFIG = Symbol('observability-config');
