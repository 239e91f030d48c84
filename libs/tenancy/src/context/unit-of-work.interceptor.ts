import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants';
import { from, type Observable } from 'rxjs';
import { nodeResponse } from '../core/node-http';
import { TenantCacheableRoutes } from './tenant-cacheable';
import { UnitOfWorkScope } from './unit-of-work-scope';

/**
 * Starts the request's unit of work once the body has arrived (interceptors run after every
 * middleware, body parsing included), so a slow or stalled body holds no concurrency slot, pool
 * lease or connection. Commits it before the response is written, so a 201 means the row is
 * durable; a failed commit becomes the response instead. Rolls back when the handler throws.
 * Once the commit succeeded, a @TenantCacheable route's answer gets its cache headers.
 * The steps live in `UnitOfWorkScope.aroundOne` (one promise; Nest takes a handler's one value
 * with `lastValueFrom` anyway) and, for a server-sent event stream, `UnitOfWorkScope.around`.
 * It is the module's only interceptor: each one more costs every request an rxjs layer.
 */
@Injectable()
export class UnitOfWorkInterceptor implements NestInterceptor {
  constructor(
    private readonly scope: UnitOfWorkScope,
    private readonly cacheable: TenantCacheableRoutes,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const unit = ctx.getType() === 'http' ? this.scope.current : undefined;
    if (!unit) return next.handle();
    const handler = ctx.getHandler();
    if (Reflect.getMetadata(SSE_METADATA, handler)) return this.scope.around(unit, () => next.handle());
    const headers = this.cacheable.headersFor(handler, ctx.getClass());
    if (!headers) return from(this.scope.aroundOne(unit, () => next.handle()));
    const res = nodeResponse(ctx.switchToHttp().getResponse());
    return from(
      this.scope
        .aroundOne(unit, () => next.handle())
        .then((value) => {
          if (!res.headersSent) {
            res.setHeader('Cache-Control', headers[0]);
            if (headers[1]) res.setHeader('Vary', headers[1]);
          }
          return value;
        }),
    );
  }
}
