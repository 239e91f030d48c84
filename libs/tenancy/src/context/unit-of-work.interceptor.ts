import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants';
import { from, type Observable } from 'rxjs';
import { UnitOfWorkScope } from './unit-of-work-scope';

/**
 * Starts the request's unit of work once the body has arrived (interceptors run after every
 * middleware, body parsing included), so a slow or stalled body holds no concurrency slot, pool
 * lease or connection. Commits it before the response is written, so a 201 means the row is
 * durable; a failed commit becomes the response instead. Rolls back when the handler throws.
 * The steps live in `UnitOfWorkScope.aroundOne` (one promise; Nest takes a handler's one value
 * with `lastValueFrom` anyway) and, for a server-sent event stream, `UnitOfWorkScope.around`.
 */
@Injectable()
export class UnitOfWorkInterceptor implements NestInterceptor {
  constructor(private readonly scope: UnitOfWorkScope) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const unit = ctx.getType() === 'http' ? this.scope.current : undefined;
    if (!unit) return next.handle();
    if (Reflect.getMetadata(SSE_METADATA, ctx.getHandler())) return this.scope.around(unit, () => next.handle());
    return from(this.scope.aroundOne(unit, () => next.handle()));
  }
}
