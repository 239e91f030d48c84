import { ContextId, ContextIdFactory, ContextIdStrategy, HostComponentInfo } from '@nestjs/core';
import { nodeRequest } from '../core/node-http';

/** Where the resolution middleware leaves the tenant id on the request. */
export const TENANT_REQUEST_KEY = Symbol.for('nest-tenancy:tenant-id');

type TenantMarked = { [TENANT_REQUEST_KEY]?: string };

/** The payload a durable provider receives as REQUEST: the tenant it was built for. */
export interface TenantDurablePayload {
  tenantId: string;
}

/**
 * Aggregates request contexts by tenant: a provider marked `durable: true` gets one instance per
 * tenant, reused by all of that tenant's requests, instead of one per request. Non-durable
 * request-scoped providers keep their per-request instance.
 */
export class TenantContextIdStrategy implements ContextIdStrategy {
  private readonly tenants = new Map<string, ContextId>();

  attach(contextId: ContextId, request: TenantMarked | { raw: TenantMarked } | undefined) {
    // The middleware marks Node's request; Fastify hands route handlers its wrapper of it.
    const tenantId = request ? nodeRequest(request)[TENANT_REQUEST_KEY] : undefined;
    if (!tenantId) return undefined;
    let tenantSubTree = this.tenants.get(tenantId);
    if (!tenantSubTree) {
      tenantSubTree = ContextIdFactory.create();
      this.tenants.set(tenantId, tenantSubTree);
    }
    const payload: TenantDurablePayload = { tenantId };
    return {
      resolve: (info: HostComponentInfo) => (info.isTreeDurable ? tenantSubTree! : contextId),
      payload,
    };
  }

  /** Whether the tenant has a durable sub-tree (its durable instances, once built, are held). */
  knows(tenantId: string): boolean {
    return this.tenants.has(tenantId);
  }

  /** Drops the sub-tree of a tenant (deleted or moved), so its durable instances are rebuilt. */
  forget(tenantId: string): void {
    this.tenants.delete(tenantId);
  }
}
