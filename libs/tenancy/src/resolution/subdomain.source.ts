import type { TenantRequest, TenantSource } from '../config/tenant-source';

/** The tenant id from the first label of the host under the base domain: `acme.example.com`. */
export class SubdomainTenantSource implements TenantSource {
  readonly name = 'subdomain' as const;
  readonly description: string;

  constructor(private readonly baseDomain: string) {
    this.description = `a subdomain of ${baseDomain}`;
  }

  read(req: TenantRequest): string | undefined {
    const raw = req.headers.host;
    if (!raw || raw.startsWith('[')) return undefined;
    const host = raw.replace(/:\d+$/, '').toLowerCase();
    const suffix = `.${this.baseDomain}`;
    if (!host.endsWith(suffix)) return undefined;
    return host.slice(0, -suffix.length);
  }
}
