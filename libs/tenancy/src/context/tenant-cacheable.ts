import { Inject, Injectable, Optional, SetMetadata, Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type ResponseCachePolicy, TenantResponseCache } from '../cache/response-cache';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';

const TENANT_CACHEABLE = Symbol.for('nest-tenancy:cacheable');

export interface TenantCacheableOptions {
  /**
   * How long the caller's own (private) cache may keep a successful answer, in seconds. Default:
   * not at all (`private, no-store`, as every tenant route).
   */
  maxAgeSeconds?: number;
  /**
   * Keep the route's 200 answers to GET in the server's response cache (`TenantResponseCache`),
   * when it is on (`cache.responseTtlSeconds` above 0): `true`, or `{ ttlSeconds }` (default the
   * module's `cache.responseTtlSeconds`) and `perCredentials` (default true: the request's
   * `Authorization` and `Cookie` are part of the key, so an answer that depends on who asks is
   * never served to someone else; false only for answers that depend on the tenant alone).
   * Default: not kept.
   */
  responseCache?: true | { ttlSeconds?: number; perCredentials?: boolean };
}

/**
 * Lets a tenant route's successful answers be cached: by the caller's private cache
 * (`maxAgeSeconds`: `Cache-Control: private, max-age=<maxAgeSeconds>` in place of the default
 * `private, no-store`, and `Vary` on the request headers that name the tenant in the configured
 * order: `Authorization` for the JWT, the tenant header, `Host` for the subdomain; the path prefix is
 * part of the URL already), and by the server's tenant response cache (`responseCache`). Error
 * answers, and answers whose commit failed, stay `no-store` and are not kept (the unit of work's
 * interceptor acts only after its commit succeeded).
 */
export const TenantCacheable = (options: TenantCacheableOptions): MethodDecorator & ClassDecorator =>
  SetMetadata(TENANT_CACHEABLE, options);

/** The headers a @TenantCacheable route's successful answer gets: `[Cache-Control, Vary]`. */
export type CacheHeaders = readonly [cacheControl: string, vary: string];

/** What a @TenantCacheable route gets: headers for the caller's cache, a policy of the response cache. */
export interface CacheableRoute {
  headers?: CacheHeaders;
  responses?: ResponseCachePolicy;
}

/**
 * Reads @TenantCacheable once per route (handler and controller), not once per request, and gives
 * the headers its successful answers get, or undefined for a route without it.
 */
@Injectable()
export class TenantCacheableRoutes {
  private readonly vary: string;
  private readonly routes = new WeakMap<Function, WeakMap<Type, CacheableRoute | null>>();

  constructor(
    @Inject(TENANCY_OPTIONS) options: ResolvedTenancyOptions,
    private readonly reflector: Reflector,
    @Optional() private readonly responses?: TenantResponseCache,
  ) {
    const { order, header, jwt } = options.resolution;
    const names = order.map((s) =>
      s === 'jwt' ? (jwt ? 'Authorization' : undefined) : s === 'header' ? header : s === 'subdomain' ? 'Host' : undefined,
    );
    this.vary = names.filter((n): n is string => !!n).join(', ');
  }

  headersFor(handler: Function, controller: Type): CacheHeaders | undefined {
    return this.routeFor(handler, controller)?.headers;
  }

  /**
   * The route's caching, or undefined for a route without @TenantCacheable (or whose options ask
   * for nothing that is on: no `maxAgeSeconds`, and no `responseCache` or the response cache off).
   */
  routeFor(handler: Function, controller: Type): CacheableRoute | undefined {
    let byController = this.routes.get(handler);
    if (!byController) this.routes.set(handler, (byController = new WeakMap()));
    let route = byController.get(controller);
    if (route === undefined) {
      const cacheable = this.reflector.getAllAndOverride<TenantCacheableOptions | undefined>(TENANT_CACHEABLE, [handler, controller]);
      const headers: CacheHeaders | undefined =
        cacheable?.maxAgeSeconds !== undefined
          ? [`private, max-age=${Math.max(0, Math.floor(cacheable.maxAgeSeconds))}`, this.vary]
          : undefined;
      const kept = cacheable?.responseCache;
      const responses = kept && this.responses?.enabled ? this.responses.policy(kept === true ? {} : kept) : undefined;
      route = headers || responses ? { headers, responses } : null;
      byController.set(controller, route);
    }
    return route ?? undefined;
  }
}
