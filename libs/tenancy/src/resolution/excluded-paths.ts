import type { ResolvedTenancyOptions } from '../config/tenancy-options';
import { arrivedTarget, type TargetRequest } from './request-target';

/**
 * Whether the request's path is one of `resolution.exclude` (or under one): not tenant-scoped.
 * Compared without regard to case, as Express routes (and Fastify with `caseSensitive: false`):
 * `/HEALTH` reaches the health controller, so it must not be taken for a tenant's request either.
 * The path is the one the client sent, before any path prefix was stripped for routing.
 */
export function isExcludedPath(options: ResolvedTenancyOptions, req: TargetRequest): boolean {
  const path = arrivedTarget(req).split('?')[0].toLowerCase();
  // The prefixes are lower case already (resolveTenancyOptions).
  return options.resolution.exclude.some((p) => path === p || path.startsWith(`${p}/`));
}
