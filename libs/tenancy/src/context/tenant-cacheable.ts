import { Inject, Injectable, SetMetadata, Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';

const TENANT_CACHEABLE = Symbol.for('nest-tenancy:cacheable');

export interface TenantCacheableOptions {
  /** How long the caller's own (private) cache may keep a successful answer. */
  maxAgeSeconds: number;
}

/**
 * Lets a tenant route's successful answers be kept by the caller's private cache: `Cache-Control:
 * private, max-age=<maxAgeSeconds>` in place of the default `private, no-store`, and `Vary` on the
 * request headers that name the tenant in the configured order (`Authorization` for the JWT, the
 * tenant header, `Host` for the subdomain; the path prefix is part of the URL already). Error
 * answers, and answers whose commit failed, stay `no-store` (the unit of work's interceptor sets
 * the headers only after its commit succeeded).
 */
export const TenantCacheable = (options: TenantCacheableOptions): MethodDecorator & ClassDecorator =>
  SetMetadata(TENANT_CACHEABLE, options);

/** The headers a @TenantCacheable route's successful answer gets: `[Cache-Control, Vary]`. */
export type CacheHeaders = readonly [cacheControl: string, vary: string];

/**
 * Reads @TenantCacheable once per route (handler and controller), not once per request, and gives
 * the headers its successful answers get, or undefined for a route without it.
 */
@Injectable()
export class TenantCacheableRoutes {
  private readonly vary: string;
  private readonly routes = new WeakMap<Function, WeakMap<Type, CacheHeaders | null>>();

  constructor(
    @Inject(TENANCY_OPTIONS) options: ResolvedTenancyOptions,
    private readonly reflector: Reflector,
  ) {
    const { order, header, jwt } = options.resolution;
    const names = order.map((s) =>
      s === 'jwt' ? (jwt ? 'Authorization' : undefined) : s === 'header' ? header : s === 'subdomain' ? 'Host' : undefined,
    );
    this.vary = names.filter((n): n is string => !!n).join(', ');
  }

  headersFor(handler: Function, controller: Type): CacheHeaders | undefined {
    let byController = this.routes.get(handler);
    if (!byController) this.routes.set(handler, (byController = new WeakMap()));
    let headers = byController.get(controller);
    if (headers === undefined) {
      const cacheable = this.reflector.getAllAndOverride<TenantCacheableOptions | undefined>(TENANT_CACHEABLE, [handler, controller]);
      headers = cacheable ? [`private, max-age=${Math.max(0, Math.floor(cacheable.maxAgeSeconds))}`, this.vary] : null;
      byController.set(controller, headers);
    }
    return headers ?? undefined;
  }
}
