/**
 * The key of the lifecycle lock (`ControlLocks`) a move of the tenant holds from start to end. Two moves of one tenant, or a move and a delete, never run at once; a free lock on a
 * tenant left `moving` means its mover is gone.
 */
export const moveLockKey = (tenantId: string): string => `move:${tenantId}`;
