import { BadRequestException } from '@nestjs/common';

// The package writes both ids into its SET statements as they are, quoted but not escaped: only
// plain ids may reach it.
const ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * RLSModule.forRoot's extractor: the tenant from the `X-Tenant-ID` header (as the kit's bench
 * requests name it), the actor from `X-Actor-ID` or `anonymous` (no policy here uses the actor).
 * A missing or malformed id is a 400.
 */
export function tenancyOf(request: { headers: Record<string, string | string[] | undefined> }): { tenantId: string; actorId: string } {
  const tenantId = request.headers['x-tenant-id'];
  const actorId = request.headers['x-actor-id'] ?? 'anonymous';
  if (typeof tenantId !== 'string' || !ID.test(tenantId))
    throw new BadRequestException('X-Tenant-ID is required: a tenant id of lowercase letters, digits, - and _.');
  if (typeof actorId !== 'string' || !ID.test(actorId))
    throw new BadRequestException('X-Actor-ID, when given, is an id of lowercase letters, digits, - and _.');
  return { tenantId, actorId };
}
