import { Injectable } from '@nestjs/common';
import { errorMessage } from '../core/error-message';
import { TenantLifecycleHookError } from '../errors/tenancy.errors';

/**
 * What happened to a tenant: `deleted` (its rows are gone; said before it leaves the catalog),
 * `moved` (it is served from its new place), `suspended` (it is no longer served).
 */
export interface TenantLifecycleEvent {
  tenantId: string;
  kind: 'deleted' | 'moved' | 'suspended';
}

/** Something that keeps per-tenant state outside the tenant's rows (a cache, a search index, a CDN). */
export interface TenantLifecycleListener {
  /** A name for the error that reports a failure (`tenant cache`). */
  readonly name: string;
  /**
   * Forgets, or stops serving, what it keeps of the tenant. Awaited by the operation; a rejection
   * makes a delete or a suspension fail with `TenantLifecycleHookError` (run it again), and is
   * logged for a move (which has finished by then).
   */
  onTenantEvent(event: TenantLifecycleEvent): Promise<void> | void;
}

/**
 * The listeners of the tenant lifecycle, called by `TenantLifecycle` (delete, suspend) and
 * `TenantMover` (move) in the instance that runs the operation, so that the operation is not done
 * while a listener could still serve the tenant's old state. Other instances learn of the change
 * from the catalog (`TenantCatalog.events`).
 */
@Injectable()
export class TenantLifecycleHooks {
  private readonly listeners = new Set<TenantLifecycleListener>();

  /** Adds a listener; the function returned removes it. */
  register(listener: TenantLifecycleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls every listener (all of them, even after one failed).
   * @throws TenantLifecycleHookError naming each listener that failed, and why.
   */
  async emit(event: TenantLifecycleEvent): Promise<void> {
    const failures: string[] = [];
    for (const listener of this.listeners) {
      try {
        await listener.onTenantEvent(event);
      } catch (err) {
        failures.push(`${listener.name}: ${errorMessage(err)}`);
      }
    }
    if (failures.length) throw new TenantLifecycleHookError(event.tenantId, event.kind, failures);
  }
}
