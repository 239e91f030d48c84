import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import { ClsService } from 'nestjs-cls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TenantAccess } from '../catalog/tenant-access';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { markTenantRequest } from '../context/request-tenant';
import { TENANT_REQUEST_KEY } from '../context/tenant-context-id.strategy';
import { UnitOfWorkScope } from '../context/unit-of-work-scope';
import { isExcludedPath } from './excluded-paths';
import { toArrivedTarget } from './request-target';
import { TenantResolver } from './tenant-resolver';

type Request = IncomingMessage & { url: string; originalUrl?: string; [TENANT_REQUEST_KEY]?: string };

/**
 * Runs inside the nestjs-cls context of each request: rewrites an absolute-form target to origin
 * form (its host wins over Host), marks the response `Cache-Control: private, no-store`, resolves
 * the tenant, checks it may be served and opens its unit of work, which holds nothing yet (the
 * interceptor starts it once the body has arrived; a connection is taken at the first query). The
 * unit is committed by the interceptor before the response is written; if the request ends any
 * other way, it is rolled back when the response closes, so a connection is always released (the
 * steps live in `UnitOfWorkScope`).
 */
@Injectable()
export class TenantResolutionMiddleware implements NestMiddleware {
  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly resolver: TenantResolver,
    private readonly access: TenantAccess,
    private readonly scope: UnitOfWorkScope,
    private readonly cls: ClsService,
  ) {}

  async use(req: Request, res: ServerResponse, next: (err?: unknown) => void): Promise<void> {
    // cls: 'app' with the app's nestjs-cls middleware mounted after this one (Nest sets up a global
    // module's middleware first): open the context here; the app's middleware then runs nested and
    // inherits it (nestjs-cls's default `ifNested: 'inherit'`), so the order of imports is free.
    if (!this.cls.isActive()) return this.cls.run(() => this.use(req, res, next));
    toArrivedTarget(req);
    if (isExcludedPath(this.options, req)) return next();
    // Every answer to a tenant-scoped request, errors included, is the caller's own: no shared
    // cache may keep it (a route can relax this with @TenantCacheable).
    res.setHeader('Cache-Control', 'private, no-store');
    const arrivedAt = performance.now();
    const { id, source } = await this.resolver.resolve(req);
    const tenant = this.access.servable(id, source, req.method);
    const unit = await this.scope.open(tenant, req.method);
    this.scope.bindToResponse(unit, res, arrivedAt);
    this.scope.enter(tenant, unit);
    req[TENANT_REQUEST_KEY] = tenant.id;
    markTenantRequest(req, tenant, unit);
    next();
  }
}
