import type { IncomingHttpHeaders } from 'node:http';

/** The built-in sources of a tenant id, by the names `resolution.order` uses. */
export type ResolverName = 'jwt' | 'header' | 'subdomain' | 'path';

/** What a source sees of a request. */
export interface TenantRequest {
  headers: IncomingHttpHeaders;
  url: string;
  method?: string;
}

/**
 * One place a tenant id can come from. A source returns the raw candidate (validated by the chain:
 * a malformed one is 400 `MalformedTenantIdError` naming `description`) or undefined when the
 * request does not use it. A source of your own (a cookie, a client certificate, an API key
 * lookup) implements this and is listed in `resolution.sources`.
 */
export interface TenantSource {
  /**
   * The name `resolution.order` and error messages use: `jwt`, `header`, `subdomain`, `path` for the
   * built-in sources; any other name (for example `cookie`) for one of yours, unique among them.
   */
  readonly name: string;
  /** How error messages name it, e.g. "the X-Tenant-ID header", "the tenant cookie". */
  readonly description: string;
  /** Reads the candidate; may be async. Throw a TenancyError subclass to refuse the request. */
  read(req: TenantRequest): Promise<string | undefined> | string | undefined;
}
