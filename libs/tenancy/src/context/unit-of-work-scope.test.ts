// The unit of work's scope on fake units: the order of its steps at each edge (HTTP response,
// interceptor, TenancyService.run), and that a unit always ends, whatever ends the request.
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { describe, it } from '@jest/globals';
import type { ExecutionContext } from '@nestjs/common';
import { SSE_METADATA } from '@nestjs/common/constants';
import { ClsService } from 'nestjs-cls';
import { lastValueFrom, of, throwError } from 'rxjs';
import type { TenantRecord } from '../core/tenant-record';
import type { UnitOfWork } from '../data-source/unit-of-work';
import type { UnitOfWorkFactory } from '../data-source/unit-of-work-factory';
import { TenantMovingError } from '../errors/tenancy.errors';
import { TenantContext } from './tenant-context';
import { UnitOfWorkScope } from './unit-of-work-scope';
import { UnitOfWorkInterceptor } from './unit-of-work.interceptor';
import { TenantCacheable, TenantCacheableRoutes } from './tenant-cacheable';
import type { ResolvedTenancyOptions } from '../config/tenancy-options';
import { Reflector } from '@nestjs/core';

const TENANT = { id: 'acme', strategy: 'shared' } as TenantRecord;

/** A unit that records each step it is asked for; `commit` fails when told to. */
function fakeUnit(steps: string[], commitError?: Error): UnitOfWork {
  return {
    start: async () => void steps.push('start'),
    commit: async () => {
      steps.push('commit');
      if (commitError) throw commitError;
    },
    rollback: async () => void steps.push('rollback'),
  } as unknown as UnitOfWork;
}

function scopeWith(unit: UnitOfWork, opened: string[] = []): { scope: UnitOfWorkScope; context: TenantContext; cls: ClsService } {
  const cls = new ClsService(new AsyncLocalStorage());
  const context = new TenantContext(cls);
  const units = { open: async (_t: TenantRecord, method: string) => (opened.push(method), unit) } as unknown as UnitOfWorkFactory;
  return { scope: new UnitOfWorkScope(cls, units, context), context, cls };
}

/** An HTTP ExecutionContext of a handler (an event stream when `sse`, @TenantCacheable when `cacheable`). */
function httpContext(sse: boolean, options: { cacheable?: boolean; res?: object } = {}): ExecutionContext {
  const handler = () => undefined;
  class Controller {}
  if (sse) Reflect.defineMetadata(SSE_METADATA, true, handler);
  if (options.cacheable) TenantCacheable({ maxAgeSeconds: 30 })(handler);
  return {
    getType: () => 'http',
    getHandler: () => handler,
    getClass: () => Controller,
    switchToHttp: () => ({ getResponse: () => options.res }),
  } as unknown as ExecutionContext;
}

const OPTIONS = { resolution: { order: ['header', 'subdomain'], header: 'X-Tenant-ID' } } as unknown as ResolvedTenancyOptions;
const interceptor = (scope: UnitOfWorkScope) => new UnitOfWorkInterceptor(scope, new TenantCacheableRoutes(OPTIONS, new Reflector()));

class FakeResponse extends EventEmitter {
  closed = false;
  destroyed = false;
}

describe('UnitOfWorkScope', () => {
  it('bindToResponse rolls back when the response closes, and at once when it already has', async () => {
    const steps: string[] = [];
    const { scope } = scopeWith(fakeUnit(steps));
    const open = new FakeResponse();
    scope.bindToResponse(fakeUnit(steps), open);
    assert.deepEqual(steps, []);
    open.emit('close');
    assert.deepEqual(steps, ['rollback']);
    const gone = Object.assign(new FakeResponse(), { destroyed: true });
    scope.bindToResponse(fakeUnit(steps), gone);
    assert.deepEqual(steps, ['rollback', 'rollback']);
  });

  it('around starts before the handler runs, commits before the value is passed on', async () => {
    const steps: string[] = [];
    const { scope } = scopeWith(fakeUnit(steps));
    const value = await lastValueFrom(scope.around(fakeUnit(steps), () => (steps.push('handler'), of('body'))));
    assert.equal(value, 'body');
    assert.deepEqual(steps, ['start', 'handler', 'commit']);
  });

  it('around rolls back and rethrows when the handler or the commit throws', async () => {
    const steps: string[] = [];
    const { scope } = scopeWith(fakeUnit(steps));
    const boom = new Error('handler failed');
    // The very error, by identity: node:assert takes an Error made in jest's sandbox for a plain object.
    await assert.rejects(lastValueFrom(scope.around(fakeUnit(steps), () => throwError(() => boom))), (err) => err === boom);
    assert.deepEqual(steps, ['start', 'rollback']);
    const failedCommit = new Error('commit failed');
    steps.length = 0;
    await assert.rejects(lastValueFrom(scope.around(fakeUnit(steps, failedCommit), () => of(1))), (err) => err === failedCommit);
    assert.deepEqual(steps, ['start', 'commit', 'rollback']);
  });

  it('aroundOne starts before the handler runs, commits before the value is returned', async () => {
    const steps: string[] = [];
    const { scope } = scopeWith(fakeUnit(steps));
    const value = await scope.aroundOne(fakeUnit(steps), () => (steps.push('handler'), of('body')));
    assert.equal(value, 'body');
    assert.deepEqual(steps, ['start', 'handler', 'commit']);
  });

  it('aroundOne rolls back and rethrows when the handler or the commit throws', async () => {
    const steps: string[] = [];
    const { scope } = scopeWith(fakeUnit(steps));
    const boom = new Error('handler failed');
    await assert.rejects(
      scope.aroundOne(fakeUnit(steps), () => throwError(() => boom)),
      (err) => err === boom,
    );
    assert.deepEqual(steps, ['start', 'rollback']);
    const failedCommit = new Error('commit failed');
    steps.length = 0;
    await assert.rejects(
      scope.aroundOne(fakeUnit(steps, failedCommit), () => of(1)),
      (err) => err === failedCommit,
    );
    assert.deepEqual(steps, ['start', 'commit', 'rollback']);
  });

  it('the interceptor keeps an event stream a stream (committed before its first event) and runs any other handler as one value', async () => {
    for (const sse of [true, false]) {
      const steps: string[] = [];
      const unit = fakeUnit(steps);
      const { scope, context, cls } = scopeWith(unit);
      const events: unknown[] = [];
      await cls.run(async () => {
        context.enter(TENANT, unit);
        const handled = interceptor(scope).intercept(httpContext(sse), {
          handle: () => (steps.push('handler'), of('a', 'b')),
        });
        await new Promise<void>((done, fail) =>
          handled.subscribe({ next: (v) => (steps.push(`event ${String(v)}`), events.push(v)), complete: done, error: fail }),
        );
      });
      if (sse) assert.deepEqual(steps, ['start', 'handler', 'commit', 'event a', 'commit', 'event b']);
      else assert.deepEqual(steps, ['start', 'handler', 'commit', 'event b'], 'one value, the last, as Nest would take it');
    }
  });

  it("a @TenantCacheable route's answer gets its cache headers only once the commit succeeded; other routes get none", async () => {
    for (const [cacheable, commitError] of [
      [true, undefined],
      [true, new Error('commit failed')],
      [false, undefined],
    ] as const) {
      const steps: string[] = [];
      const unit = fakeUnit(steps, commitError);
      const { scope, context, cls } = scopeWith(unit);
      const res = { headersSent: false, headers: new Map<string, string>(), setHeader: (k: string, v: string) => res.headers.set(k, v) };
      const outcome = await cls.run(async () => {
        context.enter(TENANT, unit);
        const handled = interceptor(scope).intercept(httpContext(false, { cacheable, res }), { handle: () => of('answer') });
        return lastValueFrom(handled).then(
          (v) => v,
          (err: Error) => err,
        );
      });
      if (commitError) {
        assert.equal(outcome, commitError);
        assert.deepEqual([...res.headers], [], 'a failed commit leaves the answer uncacheable');
      } else if (cacheable) {
        assert.equal(outcome, 'answer');
        assert.deepEqual(Object.fromEntries(res.headers), { 'Cache-Control': 'private, max-age=30', Vary: 'X-Tenant-ID, Host' });
      } else {
        assert.equal(outcome, 'answer');
        assert.deepEqual([...res.headers], []);
      }
    }
  });

  it('bindToRun opens, enters, starts, runs and commits inside its own context', async () => {
    const steps: string[] = [];
    const opened: string[] = [];
    const unit = fakeUnit(steps);
    const { scope, context } = scopeWith(unit, opened);
    const result = await scope.bindToRun(TENANT, () => {
      steps.push('fn');
      assert.equal(context.tenantId, 'acme');
      assert.equal(scope.current, unit);
      return 42;
    });
    assert.equal(result, 42);
    assert.deepEqual(opened, ['POST']);
    assert.deepEqual(steps, ['start', 'fn', 'commit']);
    assert.equal(context.tenantId, undefined, 'the context ended with the run');
  });

  it('bindToRun rolls back on a throw, and turns a fenced write (25006) into TenantMovingError', async () => {
    const steps: string[] = [];
    const { scope } = scopeWith(fakeUnit(steps));
    const plain = new Error('plain');
    await assert.rejects(
      scope.bindToRun(TENANT, () => Promise.reject(plain)),
      (err) => err === plain,
    );
    assert.deepEqual(steps, ['start', 'rollback']);
    const fenced = Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' });
    await assert.rejects(
      scope.bindToRun(TENANT, () => Promise.reject(fenced)),
      TenantMovingError,
    );
  });
});
