import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { UnitOfWorkScope } from './unit-of-work-scope';

/**
 * Starts the request's unit of work once the body has arrived (interceptors run after every
 * middleware, body parsing included), so a slow or stalled body holds no concurrency slot, pool
 * lease or connection. Commits it before the response is written, so a 201 means the row is
 * durable; a failed commit becomes the response instead. Rolls back when the handler throws.
 * The steps live in `UnitOfWorkScope.around`.
 */
@Injectable()
export class UnitOfWorkInterceptor implements NestInterceptor {
  constructor(private readonly scope: UnitOfWorkScope) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const unit = ctx.getType() === 'http' ? this.scope.current : undefined;
    if (!unit) return next.handle();
    return this.scope.around(unit, () => next.handle());
  }
}
