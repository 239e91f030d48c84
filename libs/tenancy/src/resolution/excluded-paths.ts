import type { ResolvedTenancyOptions } from '../config/tenancy-options';

/**
 * Whether the request's path is one of `resolution.exclude` (or under one): not tenant-scoped.
 * Compared without regard to case, as Express (and so Nest) routes: `/HEALTH` reaches the health
 * controller, so it must not be taken for a tenant's request either.
 */
export function isExcludedPath(options: ResolvedTenancyOptions, req: { url: string; originalUrl?: string }): boolean {
  const path = (req.originalUrl ?? req.url).split('?')[0].toLowerCase();
  // The prefixes are lower case already (resolveTenancyOptions).
  return options.resolution.exclude.some((p) => path === p || path.startsWith(`${p}/`));
}
