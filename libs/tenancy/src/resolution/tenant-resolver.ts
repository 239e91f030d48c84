import { Inject, Injectable } from '@nestjs/common';
import { ResolvedTenancyOptions, ResolverName, TENANCY_OPTIONS } from '../config/tenancy-options';
import { MalformedTenantIdError, TenantConflictError, TenantMissingError } from '../errors/tenancy.errors';
import { HeaderTenantSource } from './header.source';
import { JwtTenantSource } from './jwt.source';
import { PathTenantSource } from './path.source';
import { SubdomainTenantSource } from './subdomain.source';
import { isValidTenantId } from './tenant-id';
import type { TenantRequest, TenantSource } from './tenant-source';

export interface ResolvedTenantId {
  id: string;
  source: ResolverName;
}

/**
 * The chain of sources, in the configured order. Every source is read and its candidate checked
 * for format before any lookup; the first one that names a tenant wins. When the JWT is
 * authoritative (production by default), any other source naming a different tenant is a 403.
 */
@Injectable()
export class TenantResolver {
  private readonly sources: TenantSource[];
  private readonly path?: PathTenantSource;

  constructor(@Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions) {
    const { resolution } = options;
    const available: Partial<Record<ResolverName, TenantSource>> = {
      header: new HeaderTenantSource(resolution.header),
      subdomain: new SubdomainTenantSource(resolution.baseDomain),
      path: new PathTenantSource(resolution.pathPrefix),
      jwt: resolution.jwt ? new JwtTenantSource(resolution.jwt) : undefined,
    };
    this.sources = resolution.order.map((n) => available[n]).filter((s): s is TenantSource => !!s);
    this.path = resolution.order.includes('path') ? (available.path as PathTenantSource) : undefined;
  }

  async resolve(req: TenantRequest): Promise<ResolvedTenantId> {
    const found: ResolvedTenantId[] = [];
    for (const source of this.sources) {
      const candidate = await source.read(req);
      if (candidate === undefined) continue;
      if (!isValidTenantId(candidate)) throw new MalformedTenantIdError(source.description);
      found.push({ id: candidate, source: source.name });
    }
    this.path?.strip(req);
    if (!found.length) throw new TenantMissingError(this.sources.map((s) => s.description));
    const jwt = found.find((f) => f.source === 'jwt');
    if (jwt && this.options.resolution.jwt?.authoritative) {
      const other = found.find((f) => f.id !== jwt.id);
      if (other) throw new TenantConflictError(`The ${other.source} names a different tenant than your token; remove it or use a token for that tenant.`);
      return jwt;
    }
    return found[0];
  }
}
