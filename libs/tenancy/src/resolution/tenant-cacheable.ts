import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Observable, tap } from 'rxjs';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenantContext } from '../context/tenant-context';
import { nodeResponse } from '../core/node-http';

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
 * answers stay `no-store`.
 */
export const TenantCacheable = (options: TenantCacheableOptions): MethodDecorator & ClassDecorator =>
  SetMetadata(TENANT_CACHEABLE, options);

/** Applies @TenantCacheable on the successful answers of tenant-scoped requests. */
@Injectable()
export class TenantCacheInterceptor implements NestInterceptor {
  private readonly vary: string;

  constructor(
    @Inject(TENANCY_OPTIONS) options: ResolvedTenancyOptions,
    private readonly reflector: Reflector,
    private readonly context: TenantContext,
  ) {
    const { order, header, jwt } = options.resolution;
    const names = order.map((s) =>
      s === 'jwt' ? (jwt ? 'Authorization' : undefined) : s === 'header' ? header : s === 'subdomain' ? 'Host' : undefined,
    );
    this.vary = names.filter((n): n is string => !!n).join(', ');
  }

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const cacheable = this.reflector.getAllAndOverride<TenantCacheableOptions | undefined>(TENANT_CACHEABLE, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (!cacheable || ctx.getType() !== 'http' || !this.context.unitOfWork) return next.handle();
    const res = nodeResponse(ctx.switchToHttp().getResponse());
    return next.handle().pipe(
      tap(() => {
        if (res.headersSent) return;
        res.setHeader('Cache-Control', `private, max-age=${Math.max(0, Math.floor(cacheable.maxAgeSeconds))}`);
        if (this.vary) res.setHeader('Vary', this.vary);
      }),
    );
  }
}
