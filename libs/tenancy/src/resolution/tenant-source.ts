import type { IncomingHttpHeaders } from 'node:http';
import type { ResolverName } from '../config/tenancy-options';

/** What a source sees of a request. */
export interface TenantRequest {
  headers: IncomingHttpHeaders;
  url: string;
  method?: string;
}

/**
 * One place a tenant id can come from. A source returns the raw candidate (validated by the chain)
 * or undefined when the request does not use it.
 */
export interface TenantSource {
  readonly name: ResolverName;
  /** How the README and error messages name it, e.g. "the X-Tenant-ID header". */
  readonly description: string;
  read(req: TenantRequest): Promise<string | undefined> | string | undefined;
}
