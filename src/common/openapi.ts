import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { TENANT_ID_PATTERN } from '../../libs/tenancy/src';

/** The header a tenant route takes the tenant from on its plain path form. */
export const TENANT_HEADER = 'X-Tenant-ID';

type Operation = { operationId?: string; parameters?: { name: string; in: string }[] } & Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * The OpenAPI document of the service (served at /docs and /docs-json): every route with its
 * answers and their bodies, error answers included. A tenant route appears twice: as written,
 * with the tenant in the X-Tenant-ID header (required), and under `/t/{tenant}/`, with the tenant
 * in the path instead (the path source of tenant resolution).
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('nest-tenancy reference API')
      .setDescription(
        'Users and projects, isolated per tenant (shared tables with RLS, schema per tenant or database per tenant). ' +
          'Name the tenant in the X-Tenant-ID header, in the path (/t/{tenant}/...), as the subdomain, or in a verified JWT. ' +
          'Errors answer {statusCode, error, message}; 429 and 503 carry Retry-After.',
      )
      .addBearerAuth()
      .build(),
  );
  return withTenantPathForm(document);
}

/** Adds `/t/{tenant}<path>` for every path whose operations take the tenant header. */
export function withTenantPathForm(document: OpenAPIObject): OpenAPIObject {
  const paths: OpenAPIObject['paths'] = {};
  for (const [path, item] of Object.entries(document.paths)) {
    paths[path] = item;
    const operations = METHODS.filter((m) => (item as unknown as Record<string, Operation | undefined>)[m]);
    const tenantRoute = operations.some((m) => takesTenantHeader((item as unknown as Record<string, Operation>)[m]));
    if (!tenantRoute) continue;
    const copy = structuredClone(item) as unknown as Record<string, unknown>;
    for (const method of operations) {
      const op = copy[method] as Operation;
      op.operationId = op.operationId ? `${op.operationId}_tenantPath` : undefined;
      op.parameters = [
        {
          name: 'tenant',
          in: 'path',
          required: true,
          description: 'the tenant id (instead of the X-Tenant-ID header)',
          schema: { type: 'string', pattern: TENANT_ID_PATTERN.source, maxLength: 40 },
        } as never,
        ...(op.parameters ?? []).filter((p) => !(p.in === 'header' && p.name.toLowerCase() === TENANT_HEADER.toLowerCase())),
      ];
    }
    paths[`/t/{tenant}${path}`] = copy as never;
  }
  return { ...document, paths };
}

function takesTenantHeader(op: Operation | undefined): boolean {
  return !!op?.parameters?.some((p) => p.in === 'header' && p.name.toLowerCase() === TENANT_HEADER.toLowerCase());
}
