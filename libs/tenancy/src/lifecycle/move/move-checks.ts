import type { MoveEnd, MoveState } from '../../catalog/move-journal';
import { TenantStateError } from '../../errors/tenancy.errors';
import type { IsolationStrategies } from '../../strategies/isolation-strategies';

/** Whether the recorded move switched the catalog but did not finish its clean-up (running the move again finishes it). */
export function isUnfinished(state: MoveState | undefined): state is MoveState {
  return state?.phase === 'switched' || state?.phase === 'cleanup';
}

/** The tenant is not active (suspended, being provisioned or deleted): it cannot be moved. */
export function notActive(tenantId: string, status: string): TenantStateError {
  return new TenantStateError(`Tenant '${tenantId}' is ${status}; only an active tenant can be moved.`);
}

/** The tenant is served from the move's target already. */
export function alreadyThere(strategies: IsolationStrategies, tenantId: string, target: MoveEnd): TenantStateError {
  const where = strategies.for(target.strategy).takesServer ? ` on server '${target.server}'` : '';
  return new TenantStateError(`Tenant '${tenantId}' is already served by the ${target.strategy} model${where}.`);
}
