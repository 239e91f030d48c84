import type { ResolvedTenancyOptions } from '../config/tenancy-options';

/** Whether the request's path is one of `resolution.exclude` (or under one): not tenant-scoped. */
export function isExcludedPath(options: ResolvedTenancyOptions, req: { url: string; originalUrl?: string }): boolean {
  const path = (req.originalUrl ?? req.url).split('?')[0];
  return options.resolution.exclude.some((p) => path === p || path.startsWith(`${p}/`));
}
