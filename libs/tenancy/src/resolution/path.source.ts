import type { TenantRequest, TenantSource } from '../config/tenant-source';

/**
 * The tenant id from a path prefix: `/t/acme/users`. `strip` rewrites the URL to `/users` so the
 * routes stay the same whichever source names the tenant.
 */
export class PathTenantSource implements TenantSource {
  readonly name = 'path' as const;
  readonly description: string;
  private readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = `/${prefix.replace(/^\/+|\/+$/g, '')}/`;
    this.description = `a path prefix ${this.prefix}<tenant>/`;
  }

  read(req: TenantRequest): string | undefined {
    if (!req.url.startsWith(this.prefix)) return undefined;
    const rest = req.url.slice(this.prefix.length);
    const end = rest.search(/[/?#]/);
    return decodeSafely(end === -1 ? rest : rest.slice(0, end));
  }

  strip(req: TenantRequest): void {
    if (!req.url.startsWith(this.prefix)) return;
    const rest = req.url.slice(this.prefix.length);
    const end = rest.search(/[/?#]/);
    const tail = end === -1 ? '' : rest.slice(end);
    req.url = tail.startsWith('/') ? tail : `/${tail}`;
  }
}

function decodeSafely(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
