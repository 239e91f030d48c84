import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import { ErrorBodyDto } from './error-body.dto';

/** What each error status means in this API, as the OpenAPI document says it. */
const MEANING: Record<number, string> = {
  400: 'invalid input (a field, the query, the tenant id or the JSON body); nothing was changed',
  401: 'no valid bearer token where one is required (production: every tenant route; always: /admin)',
  403: 'the tenant is suspended, the token names another tenant, or the token lacks the super_admin role',
  404: 'no such tenant, or no such record in this tenant',
  409: 'the change conflicts with a record of this tenant',
  413: 'the JSON body is too large',
  429: 'the tenant has too many requests in flight or exceeds its rate; retry after Retry-After seconds',
  503: 'the database is unavailable, or the tenant is being moved (writes); retry after Retry-After seconds',
};

/**
 * Lists error answers of an operation in the OpenAPI document, each with the error body's schema.
 * @param statuses HTTP statuses among 400, 401, 403, 404, 409, 413, 429 and 503.
 */
export function ApiErrorResponses(...statuses: (keyof typeof MEANING)[]) {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: MEANING[status], type: ErrorBodyDto })));
}

/** The error answers every tenant route may give, whatever it does. */
const TENANT_ROUTE_ERRORS = [400, 401, 403, 404, 429, 503] as const;

/**
 * Marks a controller's routes as tenant routes in the OpenAPI document: the X-Tenant-ID header
 * (required on this path form; `openapi.ts` adds the `/t/{tenant}/` form, which takes the tenant in
 * the path instead) and the error answers every tenant route may give.
 */
export function ApiTenantRoute() {
  return applyDecorators(
    ApiHeader({
      name: 'X-Tenant-ID',
      required: true,
      description:
        'the tenant id; on this path form give it here (or in a verified JWT, or as the subdomain); the /t/{tenant}/ form takes it in the path',
    }),
    ApiErrorResponses(...TENANT_ROUTE_ERRORS),
  );
}
