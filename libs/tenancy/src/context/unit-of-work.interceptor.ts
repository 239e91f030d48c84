import { CallHandler, ExecutionContext, Injectable, NestInterceptor, Optional } from '@nestjs/common';
import { HTTP_CODE_METADATA, SSE_METADATA } from '@nestjs/common/constants';
import type { IncomingMessage } from 'node:http';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { TenantResponseCache } from '../cache/response-cache';
import { nodeRequest, nodeResponse } from '../core/node-http';
import { TenantCacheableRoutes } from './tenant-cacheable';
import { UnitOfWorkScope } from './unit-of-work-scope';

/**
 * Starts the request's unit of work once the body has arrived (interceptors run after every
 * middleware, body parsing included), so a slow or stalled body holds no concurrency slot, pool
 * lease or connection. Commits it before the response is written, so a 201 means the row is
 * durable; a failed commit becomes the response instead. Rolls back when the handler throws.
 * Once the commit succeeded, a @TenantCacheable route's answer gets its cache headers. A route with
 * `responseCache` (GET, response cache on) is first looked up in the tenant's response cache inside
 * the started unit; on a miss its committed 200 answer is kept (see `TenantResponseCache`).
 * The steps live in `UnitOfWorkScope.aroundOne` (one promise; Nest takes a handler's one value
 * with `lastValueFrom` anyway) and, for a server-sent event stream, `UnitOfWorkScope.around`.
 * It is the module's only interceptor: each one more costs every request an rxjs layer.
 */
@Injectable()
export class UnitOfWorkInterceptor implements NestInterceptor {
  constructor(
    private readonly scope: UnitOfWorkScope,
    private readonly cacheable: TenantCacheableRoutes,
    @Optional() private readonly responses?: TenantResponseCache,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const unit = ctx.getType() === 'http' ? this.scope.current : undefined;
    if (!unit) return next.handle();
    const handler = ctx.getHandler();
    if (Reflect.getMetadata(SSE_METADATA, handler)) return this.scope.around(unit, () => next.handle());
    const route = this.cacheable.routeFor(handler, ctx.getClass());
    if (!route) return from(this.scope.aroundOne(unit, () => next.handle()));
    const http = ctx.switchToHttp();
    const res = nodeResponse(http.getResponse());
    const req = route.responses ? nodeRequest<IncomingMessage>(http.getRequest()) : undefined;
    const kept = req?.method === 'GET' ? route.responses : undefined;
    let keepUnder: string | undefined;
    const handle = !kept
      ? () => next.handle()
      : () =>
          // Inside the started unit: a kept answer counts against the tenant's concurrency and rate
          // like any other, and makes no query (so takes no connection).
          from(
            this.responses!.lookup(unit.tenant.id, req!, kept).then((found) => {
              if (found.hit) return found.value;
              keepUnder = found.key;
              return lastValueFrom(next.handle(), { defaultValue: undefined });
            }),
          );
    return from(
      this.scope.aroundOne(unit, handle).then((value) => {
        if (!res.headersSent) {
          if (route.headers) {
            res.setHeader('Cache-Control', route.headers[0]);
            if (route.headers[1]) res.setHeader('Vary', route.headers[1]);
          }
          // Committed, and answered 200 (the route's code, and no status set by the handler): kept.
          if (keepUnder && res.statusCode === 200 && (Reflect.getMetadata(HTTP_CODE_METADATA, handler) ?? 200) === 200)
            void this.responses!.keep(keepUnder, value, kept!);
        }
        return value;
      }),
    );
  }
}
