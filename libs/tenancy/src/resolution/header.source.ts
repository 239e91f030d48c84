import type { TenantRequest, TenantSource } from '../config/tenant-source';

/** The tenant id from a header (`X-Tenant-ID` by default). A repeated header counts as malformed. */
export class HeaderTenantSource implements TenantSource {
  readonly name = 'header' as const;
  readonly description: string;

  constructor(private readonly header: string) {
    this.description = `the ${header} header`;
  }

  read(req: TenantRequest): string | undefined {
    const value = req.headers[this.header];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.join(',') : value;
  }
}
