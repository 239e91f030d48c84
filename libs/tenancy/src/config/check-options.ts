import { TenancyConfigError } from '../errors/tenancy.errors';
import type { TenancyModuleOptions } from './tenancy-options';
import { validateTenantsDefinition } from './tenants-file';

/** Where a problem of the module's options is said to be (`TenancyConfigError.file`). */
const WHERE = 'the TenancyModule options';

function postgresUrlProblem(name: string, value: unknown): string | undefined {
  if (typeof value !== 'string' || !value) return `${name}: required, a postgres:// URL naming a user and a database`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${name}: not a URL; expected postgres://user:password@host:5432/database`;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return `${name}: must start with postgres:// or postgresql://`;
  if (!url.username) return `${name}: names no user (postgres://user:password@host:5432/database)`;
  if (url.pathname.length <= 1) return `${name}: names no database (postgres://user:password@host:5432/database)`;
  return undefined;
}

function numberProblem(name: string, value: unknown, min: number, integer = true): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min) {
    return `${name}: must be ${integer ? 'an integer' : 'a number'} of at least ${min} (got ${JSON.stringify(value)})`;
  }
  return undefined;
}

/**
 * Checks the module's options before anything uses them, so a mistake stops the start with every
 * problem named by its option key instead of failing later, per request or with a driver's words.
 * An inline `catalog` gets the same checks as a tenants file.
 * @returns `options`, unchanged.
 * @throws TenancyConfigError listing every problem found.
 */
export function checkTenancyOptions(options: TenancyModuleOptions): TenancyModuleOptions {
  const o = (options ?? {}) as Partial<TenancyModuleOptions>;
  const problems: (string | undefined)[] = [
    postgresUrlProblem('databaseUrl', o.databaseUrl),
    o.directUrl === undefined ? undefined : postgresUrlProblem('directUrl', o.directUrl),
    ...Object.entries(o.servers ?? {}).map(([name, url]) => postgresUrlProblem(`servers.${name}`, url)),
    Array.isArray(o.migrations) ? undefined : 'migrations: required, an array of migration classes (empty when there are none)',
    o.entities === undefined || Array.isArray(o.entities) ? undefined : 'entities: must be an array of entity classes',
    numberProblem('pool.max', o.pool?.max, 1),
    numberProblem('pool.maxLifetimeSeconds', o.pool?.maxLifetimeSeconds, 0),
    numberProblem('pool.maxUses', o.pool?.maxUses, 1),
    numberProblem('pool.idleTimeoutMillis', o.pool?.idleTimeoutMillis, 0),
    numberProblem('databasePools.defaultMax', o.databasePools?.defaultMax, 1),
    numberProblem('databasePools.budgetPerServer', o.databasePools?.budgetPerServer, 1),
    numberProblem('databasePools.idleMillis', o.databasePools?.idleMillis, 100),
    numberProblem('databasePools.maxLifetimeSeconds', o.databasePools?.maxLifetimeSeconds, 0),
    numberProblem('concurrency', o.concurrency, 1),
    o.rate === undefined ? undefined : numberProblem('rate.perSecond', o.rate.perSecond ?? NaN, 0.001, false),
    numberProblem('rate.burst', o.rate?.burst, 1),
    numberProblem('catalogRefreshMillis', o.catalogRefreshMillis, 100),
    numberProblem('catalogFallbackRefreshMillis', o.catalogFallbackRefreshMillis, 100),
    numberProblem('timeouts.acquireMillis', o.timeouts?.acquireMillis, 1),
    numberProblem('timeouts.statementMillis', o.timeouts?.statementMillis, 1),
    numberProblem('timeouts.lockMillis', o.timeouts?.lockMillis, 1),
    numberProblem('timeouts.idleInTransactionMillis', o.timeouts?.idleInTransactionMillis, 1),
    numberProblem('usage.flushMillis', o.usage?.flushMillis, 100),
    numberProblem('usage.storageCacheMillis', o.usage?.storageCacheMillis, 0),
    numberProblem('usage.noisy.factor', o.usage?.noisy?.factor, 1, false),
    numberProblem('usage.noisy.windowSeconds', o.usage?.noisy?.windowSeconds, 1),
    numberProblem('usage.noisy.checkMillis', o.usage?.noisy?.checkMillis, 100),
    numberProblem('usage.noisy.minRequests', o.usage?.noisy?.minRequests, 0),
    numberProblem('usage.noisy.minDatabaseMillis', o.usage?.noisy?.minDatabaseMillis, 0, false),
    // A registration option, known before any option is computed: a factory's result cannot carry it.
    'ownerDataSource' in o
      ? 'ownerDataSource: give it to TenancyModule.forRootAsync({ ownerDataSource, useFactory, ... }) itself, beside useFactory, not in the options useFactory returns'
      : undefined,
  ];
  if (!o.catalog || typeof o.catalog !== 'object')
    problems.push('catalog: required, the tiers and tenants (loadTenantsFile or an object of the same shape)');
  else
    for (const [name, tier] of Object.entries(o.catalog.tiers ?? {})) {
      // Without a rate there is nothing to apply when a tenant of the tier turns noisy.
      if (tier?.throttleWhenNoisy === true && !tier.rate && !o.rate)
        problems.push(`catalog.tiers.${name}.throttleWhenNoisy: needs a rate to apply; give the tier a rate: { perSecond: N }`);
    }
  const found = problems.filter((p): p is string => p !== undefined);
  if (found.length) throw new TenancyConfigError(WHERE, found);
  // The catalog's own checks (models, tiers, servers, ids), with its keys under `catalog.`.
  validateTenantsDefinition(o.catalog, `${WHERE} (catalog)`, ['default', ...Object.keys(o.servers ?? {})]);
  return options;
}
