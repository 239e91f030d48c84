import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenantAdmission } from '../data-source/tenant-admission';
import { writeErrorResponse } from '../errors/error-response';
import { TenantRateLimitedError } from '../errors/tenancy.errors';
import { isExcludedPath } from './excluded-paths';
import { toArrivedTarget } from './request-target';
import { TenantResolver } from './tenant-resolver';

type Request = IncomingMessage & { url: string; originalUrl?: string };

/**
 * The first middleware of a request: answers 429 at once, before the request context, tenant
 * resolution and the rest of the pipeline run, when the tenant the request names is already past
 * its tier's `concurrency` (this process's slots), or was refused for its `rate` and its
 * Retry-After has not passed (the admission's cached verdict, so no store is asked). A flooding tenant's surplus then costs the process as little
 * as an HTTP answer can, and the other tenants keep the CPU.
 *
 * It reads the tenant unverified (`TenantResolver.peek`), so it only ever refuses, never serves:
 * when a token could name another tenant it lets the request through, and the tenant's limits are
 * checked again, authoritatively, when its unit of work opens.
 */
@Injectable()
export class TenantSheddingMiddleware implements NestMiddleware {
  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly resolver: TenantResolver,
    private readonly catalog: TenantCatalog,
    private readonly admission: TenantAdmission,
  ) {}

  use(req: Request, res: ServerResponse, next: () => void): void {
    toArrivedTarget(req);
    if (isExcludedPath(this.options, req)) return next();
    const id = this.resolver.peek(req);
    const tenant = id === undefined ? undefined : this.catalog.get(id);
    const refusal = tenant && this.admission.refusal(tenant);
    if (!refusal) return next();
    const error = refusal();
    res.setHeader('Cache-Control', 'private, no-store');
    const extra = error instanceof TenantRateLimitedError ? error.headers() : undefined;
    writeErrorResponse(
      res,
      { statusCode: error.getStatus(), error: 'Too Many Requests', message: error.message },
      error.retryAfterSeconds,
      extra,
    );
  }
}
