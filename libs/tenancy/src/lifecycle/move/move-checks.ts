import type { MoveEnd, MoveState } from '../../catalog/move-journal';
import type { IsolationModel, ResolvedTenancyOptions } from '../../config/tenancy-options';
import { InvalidTenantDefinitionError, TenantStateError } from '../../errors/tenancy.errors';
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

/**
 * The tier a move sets (undefined: the tenant keeps its own): a tier of the options whose model is
 * the move's target model.
 * @throws InvalidTenantDefinitionError for an unknown tier, or one of another model.
 */
export function tierOfMove(options: ResolvedTenancyOptions, to: { strategy: IsolationModel; tier?: string }): string | undefined {
  if (to.tier === undefined) return undefined;
  const tiers = options.catalog.tiers;
  if (!Object.hasOwn(tiers, to.tier))
    throw new InvalidTenantDefinitionError(`Unknown tier '${to.tier}'; known tiers: ${Object.keys(tiers).join(', ')}.`);
  if (tiers[to.tier].strategy !== to.strategy)
    throw new InvalidTenantDefinitionError(
      `Tier '${to.tier}' is of the ${tiers[to.tier].strategy} model, not ${to.strategy}: name a tier of the target model.`,
    );
  return to.tier;
}
