import { Inject, Injectable } from '@nestjs/common';
import { ResolvedTenancyOptions, ResolverName, TENANCY_OPTIONS } from '../config/tenancy-options';
import {
  MalformedTenantIdError,
  TenantConflictError,
  TenantMissingError,
  TenantSourcesConflictError,
  TenantTokenRequiredError,
} from '../errors/tenancy.errors';
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
 * for format before any lookup. When tokens are required (production by default), a request
 * without a valid token naming a tenant is 401 before anything else is read. When the JWT is
 * authoritative (production by default), any other source naming a different tenant is 403.
 * Otherwise two sources naming different tenants are 400 (`onConflict: 'reject'`, the default) or
 * the first source of the order wins (`onConflict: 'first'`).
 */
@Injectable()
export class TenantResolver {
  private readonly sources: TenantSource[];
  private readonly path?: PathTenantSource;
  private readonly jwt?: JwtTenantSource;

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
    this.jwt = available.jwt as JwtTenantSource | undefined;
  }

  /**
   * The tenant a request names, read cheaply and unverified, for shedding load only (never to serve
   * a request): the one valid id its header, subdomain and path sources agree on. Undefined when
   * none names one, when they disagree, and whenever a token could decide (tokens required, or the
   * request carries one): then only `resolve` can say.
   */
  peek(req: TenantRequest): string | undefined {
    if (this.jwt && (this.options.resolution.jwt?.required || req.headers.authorization !== undefined)) return undefined;
    let id: string | undefined;
    for (const source of this.sources) {
      if (source === this.jwt) continue;
      const candidate = source.read(req);
      if (candidate === undefined) continue;
      if (typeof candidate !== 'string' || !isValidTenantId(candidate) || (id !== undefined && id !== candidate)) return undefined;
      id = candidate;
    }
    return id;
  }

  async resolve(req: TenantRequest): Promise<ResolvedTenantId> {
    const { jwt: jwtOptions, onConflict } = this.options.resolution;
    // Checked first, so a caller without a token learns nothing about the tenant it names.
    if (this.jwt && jwtOptions?.required && (await this.jwt.read(req)) === undefined) throw new TenantTokenRequiredError();
    const found: (ResolvedTenantId & { description: string })[] = [];
    for (const source of this.sources) {
      const candidate = await source.read(req);
      if (candidate === undefined) continue;
      if (!isValidTenantId(candidate)) throw new MalformedTenantIdError(source.description);
      found.push({ id: candidate, source: source.name, description: source.description });
    }
    this.path?.strip(req);
    if (!found.length) throw new TenantMissingError(this.sources.map((s) => s.description));
    const jwt = found.find((f) => f.source === 'jwt');
    const winner = jwt && jwtOptions?.authoritative ? jwt : found[0];
    const other = found.find((f) => f.id !== winner.id);
    if (other && winner === jwt && jwtOptions?.authoritative) {
      throw new TenantConflictError(`The ${other.source} names a different tenant than your token; remove it or use a token for that tenant.`);
    }
    if (other && onConflict !== 'first') throw new TenantSourcesConflictError(winner, other);
    return { id: winner.id, source: winner.source };
  }
}
