import { Inject, Injectable, OnModuleInit, Optional, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import {
  MalformedTenantIdError,
  TenancyConfigError,
  TenantConflictError,
  TenantMissingError,
  TenantSourcesConflictError,
  TenantTokenRequiredError,
} from '../errors/tenancy.errors';
import { HeaderTenantSource } from './header.source';
import { JwtTenantSource } from './jwt.source';
import { PathTenantSource } from './path.source';
import { SubdomainTenantSource } from './subdomain.source';
import { isValidTenantId } from '../core/tenant-id';
import type { TenantRequest, TenantSource } from '../config/tenant-source';
import { isExcludedPath } from './excluded-paths';
import { ARRIVED_TARGET, toOriginForm, type TargetRequest } from './request-target';

export interface ResolvedTenantId {
  id: string;
  /** The `name` of the source that named the tenant (`jwt`, `header`, ... or one of `resolution.sources`). */
  source: string;
}

/**
 * The chain of sources, in the configured order. Every source is read and its candidate checked
 * for format before any lookup. When tokens are required (production by default), a request
 * without a valid token naming a tenant is 401 before anything else is read. When the JWT is
 * authoritative (production by default), any other source naming a different tenant is 403.
 * Otherwise two sources naming different tenants are 400 (`onConflict: 'reject'`, the default) or
 * the first source of the order wins (`onConflict: 'first'`).
 *
 * Sources of the app's own (`resolution.sources`) join the built-in ones by name; a class among
 * them is built at module init with its dependencies injected.
 */
@Injectable()
export class TenantResolver implements OnModuleInit {
  private sources: TenantSource[] = [];
  /** The built-in sources `peek` may read: cheap and synchronous (the app's own may be neither). */
  private readonly peekable = new Set<TenantSource>();
  private path?: PathTenantSource;
  private readonly jwt?: JwtTenantSource;

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    @Optional() private readonly moduleRef?: ModuleRef,
  ) {
    const { jwt } = options.resolution;
    this.jwt = jwt ? new JwtTenantSource(jwt) : undefined;
    // Without classes to build, the chain is complete now (and usable without a Nest module).
    if (!options.resolution.sources.some(isClass)) this.arrange(options.resolution.sources as TenantSource[]);
  }

  async onModuleInit(): Promise<void> {
    const { sources } = this.options.resolution;
    if (!sources.some(isClass)) return;
    if (!this.moduleRef) throw new Error('TenantResolver builds the classes of resolution.sources through Nest: create it as a provider.');
    const moduleRef = this.moduleRef;
    this.arrange(await Promise.all(sources.map((s) => (isClass(s) ? moduleRef.create(s) : Promise.resolve(s)))));
  }

  /**
   * The chain in `resolution.order`, then the app's sources it does not name.
   * @throws TenancyConfigError when a name is given twice or `order` names no source.
   */
  private arrange(own: TenantSource[]): void {
    const { resolution } = this.options;
    const builtIn: TenantSource[] = [
      new HeaderTenantSource(resolution.header),
      new SubdomainTenantSource(resolution.baseDomain),
      new PathTenantSource(resolution.pathPrefix),
      ...(this.jwt ? [this.jwt] : []),
    ];
    const byName = new Map<string, TenantSource>(builtIn.map((s) => [s.name, s]));
    this.peekable.clear();
    for (const source of builtIn) if (source !== this.jwt) this.peekable.add(source);
    const problems: string[] = [];
    for (const source of own) {
      if (byName.has(source.name) || source.name === 'jwt')
        problems.push(`source name "${source.name}" is taken; give the source another name`);
      byName.set(source.name, source);
    }
    for (const name of resolution.order) {
      if (!byName.has(name) && name !== 'jwt') problems.push(`"${name}" names no source; known: ${[...byName.keys()].join(', ')}`);
    }
    if (problems.length) throw new TenancyConfigError('resolution.sources / resolution.order', problems);
    const listed = resolution.order.map((n) => byName.get(n)).filter((s): s is TenantSource => !!s);
    this.sources = [...listed, ...own.filter((s) => !listed.includes(s))];
    this.path = this.sources.find((s): s is PathTenantSource => s instanceof PathTenantSource);
  }

  /**
   * For a platform that routes a request before any middleware runs (Fastify, where Nest's
   * middleware run in an `onRequest` hook): does to the target, before the router sees it, what the
   * middlewares do on Express before routing, so the request reaches the same route on both. The
   * target in origin form (its host made the Host header), kept as it arrived in `ARRIVED_TARGET`
   * for the middlewares, and the path prefix stripped when the path source is in the chain and the
   * path is not excluded. Synchronous and cheap; never throws.
   */
  route(req: TargetRequest): void {
    toOriginForm(req);
    req[ARRIVED_TARGET] = req.url;
    if (this.path && !isExcludedPath(this.options, req)) this.path.strip(req);
  }

  /**
   * The tenant a request names, read cheaply and unverified, for shedding load only (never to serve
   * a request): the one valid id its header, subdomain and path sources agree on. Undefined when
   * none names one, when they disagree, and whenever a token could decide (tokens required, or the
   * request carries one): then only `resolve` can say. The app's own sources are not read here.
   */
  peek(req: TenantRequest): string | undefined {
    if (this.jwt && (this.options.resolution.jwt?.required || req.headers.authorization !== undefined)) return undefined;
    let id: string | undefined;
    for (const source of this.sources) {
      if (!this.peekable.has(source)) continue;
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
    const jwt = found.find((f) => f.source === this.jwt?.name);
    const winner = jwt && jwtOptions?.authoritative ? jwt : found[0];
    const other = found.find((f) => f.id !== winner.id);
    if (other && winner === jwt && jwtOptions?.authoritative) {
      throw new TenantConflictError(
        `The ${other.source} names a different tenant than your token; remove it or use a token for that tenant.`,
      );
    }
    if (other && onConflict !== 'first') throw new TenantSourcesConflictError(winner, other);
    return { id: winner.id, source: winner.source };
  }
}

function isClass(source: TenantSource | Type<TenantSource>): source is Type<TenantSource> {
  return typeof source === 'function';
}
