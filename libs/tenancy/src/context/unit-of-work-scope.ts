import { Injectable, Optional } from '@nestjs/common';
import { TenantResponseCache } from '../cache/response-cache';
import { ClsService } from 'nestjs-cls';
import { catchError, concatMap, from, lastValueFrom, Observable, throwError } from 'rxjs';
import type { TenantRecord } from '../core/tenant-record';
import type { UnitOfWork } from '../data-source/unit-of-work';
import { UnitOfWorkFactory } from '../data-source/unit-of-work-factory';
import { pgErrorCode, READ_ONLY_TRANSACTION } from '../errors/pg-error-code';
import { ClsContextMissingError, TenantMovingError } from '../errors/tenancy.errors';
import { TenantActivity } from './tenant-activity';
import { TenantKeyring } from '../encryption/tenant-keyring';
import { TenantContext } from './tenant-context';

/** What `bindToResponse` needs of an HTTP response: Node's `ServerResponse` has it. */
export interface ClosableResponse {
  readonly closed: boolean;
  readonly destroyed: boolean;
  /** The status answered (Node's response has it); 0 or absent when none was. */
  readonly statusCode?: number;
  readonly headersSent?: boolean;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * The one home of a unit of work's scope: where it opens, enters the async context, starts,
 * commits and rolls back, for both edges that run one.
 *
 * - HTTP: the resolution middleware calls `open` + `enter` + `bindToResponse` (the unit holds
 *   nothing yet), and the interceptor calls `aroundOne` (or `around` for a stream of server-sent
 *   events), which starts it once the body has arrived,
 *   commits before the response is written and rolls back when the handler throws.
 * - Outside HTTP: `TenancyService.run` calls `bindToRun`, which does all of it inside a fresh
 *   nestjs-cls context around a function.
 *
 * Whatever the edge, the unit always ends: committed, rolled back, or rolled back when the response
 * closes first (the client went away).
 */
@Injectable()
export class UnitOfWorkScope {
  constructor(
    private readonly cls: ClsService,
    private readonly units: UnitOfWorkFactory,
    private readonly context: TenantContext,
    private readonly activity: TenantActivity = new TenantActivity(),
    @Optional() private readonly responses?: TenantResponseCache,
    @Optional() private readonly keyring?: TenantKeyring,
  ) {}

  /** The unit of the current async context, or undefined outside a tenant's context. */
  get current(): UnitOfWork | undefined {
    return this.context.unitOfWork;
  }

  /**
   * Opens the tenant's unit of work, which holds nothing until `start` (see `UnitOfWorkFactory.open`).
   * `method`: the HTTP method (anything but GET, HEAD and OPTIONS may write). Default `POST`.
   * @throws TenantBusyError or TenantRateLimitedError (429) when the tenant is past its tier's limits.
   */
  open(tenant: TenantRecord, method = 'POST'): Promise<UnitOfWork> {
    return this.units.open(tenant, method);
  }

  /**
   * Makes `tenant` and `unit` the current ones of the active nestjs-cls context.
   * @throws ClsContextMissingError when no nestjs-cls context is active (the app's middleware is missing).
   */
  enter(tenant: TenantRecord, unit: UnitOfWork): void {
    if (!this.cls.isActive()) throw new ClsContextMissingError();
    this.context.enter(tenant, unit);
  }

  /**
   * Takes the unit's concurrency slot and DataSource lease (see `UnitOfWork.start`), and makes the
   * tenant's data keys the context's (see `TenantKeyring.enter`; from memory once cached).
   */
  start(unit: UnitOfWork): Promise<void> {
    const keys = unit.tenant && this.keyring?.enter(unit.tenant.id);
    if (!keys) return unit.start();
    // Both settle before an error is passed on, so a rollback never races a start still under way.
    const started = unit.start();
    return keys.then(
      () => started,
      (err) =>
        started.then(
          () => Promise.reject(err),
          () => Promise.reject(err),
        ),
    );
  }

  /**
   * Commits the unit (see `UnitOfWork.commit` for what it throws). A unit that may have written
   * (`mayWrite`, and a statement was sent) then invalidates the tenant's cached answers, before its
   * own answer is sent (see `TenantResponseCache`); also after a failed COMMIT, whose outcome may be
   * unknown. The invalidation never throws.
   */
  commit(unit: UnitOfWork): Promise<void> {
    const responses = this.responses;
    // The response cache off (its default): the commit alone, no extra promise per request.
    if (!responses?.enabled) return unit.commit();
    const changed = async (): Promise<void> => {
      if (unit.mayWrite && unit.began && unit.tenant) await responses.dataChanged(unit.tenant.id);
    };
    return unit.commit().then(changed, async (err: unknown) => {
      await changed();
      throw err;
    });
  }

  /** Rolls the unit back; a no-op once it ended. Never throws. */
  rollback(unit: UnitOfWork): Promise<void> {
    return unit.rollback();
  }

  /**
   * Rolls the unit back when the response closes, whatever ended the request (a commit before that
   * makes it a no-op). A response already closed (the client went away while the tenant was being
   * resolved) rolls it back at once, so a connection is always released.
   */
  bindToResponse(unit: UnitOfWork, res: ClosableResponse, arrivedAt = performance.now()): void {
    const ended = () => {
      const millis = performance.now() - arrivedAt;
      const status = res.headersSent === false ? 0 : (res.statusCode ?? 0);
      void this.rollback(unit).then(() => this.recordEnd(unit, 'request', millis, status >= 500, status));
    };
    if (res.closed || res.destroyed) ended();
    else res.once('close', ended);
  }

  /** Records an ended unit in the tenant's activity (see `TenantActivity`). */
  private recordEnd(unit: UnitOfWork, kind: 'request' | 'run', millis: number, failed: boolean, status?: number): void {
    // Units made by hand (tests) may have no tenant.
    if (!unit.tenant) return;
    this.activity.record({
      tenant: unit.tenant,
      kind,
      status,
      failed,
      millis,
      databaseMillis: unit.databaseMillis ?? 0,
      rowsWritten: unit.rowsWritten ?? 0,
    });
  }

  /**
   * The handler's stream inside the unit (a server-sent event route): started before `handle`
   * subscribes, committed after the first value (later commits are no-ops) and before it is passed on, so a 201 means the row is
   * durable and a failed commit becomes the response; rolled back when anything throws.
   */
  around<T>(unit: UnitOfWork, handle: () => Observable<T>): Observable<T> {
    return from(this.start(unit)).pipe(
      concatMap(() => handle()),
      concatMap(async (value) => {
        await this.commit(unit);
        return value;
      }),
      catchError((err) => from(this.rollback(unit)).pipe(concatMap(() => throwError(() => err)))),
    );
  }

  /**
   * The handler's one value inside the unit, as a promise (no rxjs operators on the hot path): the
   * unit is started before `handle` is called, committed after the value arrives and before it is
   * returned (a failed commit rejects instead), and rolled back when anything throws. For handlers
   * that give one value, which is every route but a server-sent event stream (see `around`).
   */
  async aroundOne<T>(unit: UnitOfWork, handle: () => Observable<T>): Promise<T | undefined> {
    try {
      await this.start(unit);
      const value = await lastValueFrom(handle(), { defaultValue: undefined });
      await this.commit(unit);
      return value;
    } catch (err) {
      await this.rollback(unit);
      throw err;
    }
  }

  /**
   * Runs `fn` as `tenant` in a fresh nestjs-cls context, in its own unit of work: opened, entered and
   * started before `fn`, committed when it resolves, rolled back when it throws. A write refused by
   * the tenant's fence (SQLSTATE 25006) is rethrown as TenantMovingError.
   */
  bindToRun<T>(tenant: TenantRecord, fn: () => Promise<T> | T): Promise<T> {
    return this.cls.run({ ifNested: 'override' }, async () => {
      const unit = await this.open(tenant);
      this.enter(tenant, unit);
      const startedAt = performance.now();
      try {
        await this.start(unit);
        const result = await fn();
        await this.commit(unit);
        this.recordEnd(unit, 'run', performance.now() - startedAt, false);
        return result;
      } catch (err) {
        await this.rollback(unit);
        this.recordEnd(unit, 'run', performance.now() - startedAt, true);
        if (pgErrorCode(err) === READ_ONLY_TRANSACTION) throw new TenantMovingError(tenant.id);
        throw err;
      }
    });
  }
}
