import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { catchError, concatMap, from, Observable, throwError } from 'rxjs';
import { TenantContext } from '../context/tenant-context';

/**
 * Starts the request's unit of work once the body has arrived (interceptors run after every
 * middleware, body parsing included), so a slow or stalled body holds no concurrency slot, pool
 * lease or connection. Commits it before the response is written, so a 201 means the row is
 * durable; a failed commit becomes the response instead. Rolls back when the handler throws.
 */
@Injectable()
export class UnitOfWorkInterceptor implements NestInterceptor {
  constructor(private readonly context: TenantContext) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const uow = ctx.getType() === 'http' ? this.context.unitOfWork : undefined;
    if (!uow) return next.handle();
    return from(uow.start()).pipe(
      concatMap(() => next.handle()),
      concatMap(async (value) => {
        await uow.commit();
        return value;
      }),
      catchError((err) => from(uow.rollback()).pipe(concatMap(() => throwError(() => err)))),
    );
  }
}
