import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * Base class of every error the library raises. Each one carries the HTTP status it maps to, so an
 * HTTP caller gets a clear 4xx/5xx with `{statusCode, error, message}` and code outside HTTP (CLI,
 * jobs) can still catch it by class.
 */
export abstract class TenancyError extends HttpException {
  protected constructor(message: string, status: HttpStatus, error: string) {
    super({ statusCode: status, error, message }, status);
    this.name = new.target.name;
  }
}

export class TenantMissingError extends TenancyError {
  constructor(sources: string[]) {
    super(`No tenant given. Name the tenant with ${oneOf(sources)}.`, HttpStatus.BAD_REQUEST, 'Bad Request');
  }
}

export class MalformedTenantIdError extends TenancyError {
  constructor(source: string) {
    super(
      `The tenant id from ${source} is malformed: use 1 to 40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit.`,
      HttpStatus.BAD_REQUEST,
      'Bad Request',
    );
  }
}

export class UnknownTenantError extends TenancyError {
  constructor(id: string) {
    super(`Tenant '${id}' does not exist.`, HttpStatus.NOT_FOUND, 'Not Found');
  }
}

export class TenantSuspendedError extends TenancyError {
  constructor(id: string) {
    super(`Tenant '${id}' is suspended. Ask the operator to resume it.`, HttpStatus.FORBIDDEN, 'Forbidden');
  }
}

export class TenantNotReadyError extends TenancyError {
  constructor(id: string, status: string) {
    super(`Tenant '${id}' is not ready (${status}). Try again shortly.`, HttpStatus.SERVICE_UNAVAILABLE, 'Service Unavailable');
  }
}

/**
 * A write to a tenant whose data is being moved (or has just moved, before this instance heard).
 * `retryAfterSeconds` becomes the Retry-After header. `id` omitted: the database refused the write
 * (SQLSTATE 25006 from the tenant's fence) where the tenant id is not at hand.
 */
export class TenantMovingError extends TenancyError {
  readonly retryAfterSeconds = 2;
  constructor(id?: string) {
    super(
      `${id ? `Tenant '${id}'` : 'This tenant'} is being moved; writes are paused for a few seconds. Retry after the Retry-After delay.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

export class TenantConflictError extends TenancyError {
  constructor(detail: string) {
    super(detail, HttpStatus.FORBIDDEN, 'Forbidden');
  }
}

export class InvalidTenantTokenError extends TenancyError {
  constructor() {
    super('The bearer token is invalid or expired. Sign in again to get a new token.', HttpStatus.UNAUTHORIZED, 'Unauthorized');
  }
}

/** A verified token whose tenant claim is not a string (`null`, a number, an array, an object). */
export class InvalidTenantClaimError extends TenancyError {
  constructor(claim: string) {
    super(
      `The "${claim}" claim of the bearer token is not a string. Sign in again to get a token that names one tenant.`,
      HttpStatus.UNAUTHORIZED,
      'Unauthorized',
    );
  }
}

/**
 * A tenant route called without a valid bearer token naming a tenant while tokens are required
 * (`resolution.jwt.required`). The same body whatever tenant the other sources name, so a caller
 * without a token cannot tell unknown, suspended and other tenants apart.
 */
export class TenantTokenRequiredError extends TenancyError {
  constructor() {
    super(
      'This route needs a bearer token that names your tenant. Sign in to get one and send it as "Authorization: Bearer <token>".',
      HttpStatus.UNAUTHORIZED,
      'Unauthorized',
    );
  }
}

/** Two sources of one request name different tenants (`resolution.onConflict: 'reject'`, the default). */
export class TenantSourcesConflictError extends TenancyError {
  constructor(first: { id: string; description: string }, second: { id: string; description: string }) {
    super(
      `${capitalize(first.description)} names tenant '${first.id}' but ${second.description} names tenant '${second.id}'. Name one tenant: remove one of them or make them agree.`,
      HttpStatus.BAD_REQUEST,
      'Bad Request',
    );
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * No connection freed up within the acquire timeout: the server's connection budget is in use, or
 * (with `tenant`) the tenant already holds its tier's `pool.max` connections.
 */
export class TenantPoolExhaustedError extends TenancyError {
  readonly retryAfterSeconds = 1;
  constructor(server: string, tenant?: { id: string; max: number }) {
    super(
      tenant
        ? `All ${tenant.max} connections of tenant '${tenant.id}' are in use. Retry in a moment.`
        : `All connections of database server '${server}' are in use. Retry in a moment.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

/** 503: the service is shutting down; a unit of work that had not started yet is not started. */
export class ServiceStoppingError extends TenancyError {
  readonly retryAfterSeconds = 1;
  constructor() {
    super('The service is restarting or stopping. Retry in a moment.', HttpStatus.SERVICE_UNAVAILABLE, 'Service Unavailable');
  }
}

/**
 * The tenant already has its tier's `concurrency` units of work in flight (requests being served).
 * `retryAfterSeconds` becomes the Retry-After header. Other tenants are not affected.
 */
export class TenantBusyError extends TenancyError {
  readonly retryAfterSeconds = 1;
  constructor(id: string, limit: number) {
    super(
      `Tenant '${id}' already has ${limit} requests in progress, the most its tier allows at once. Retry after the Retry-After delay.`,
      HttpStatus.TOO_MANY_REQUESTS,
      'Too Many Requests',
    );
  }
}

/**
 * 429: the tenant started more requests than its tier's `rate` allows. Its answer carries
 * `Retry-After` and the RateLimit header fields of draft-ietf-httpapi-ratelimit-headers-10
 * (September 2025, section 3 and 4; see `headers`).
 */
export class TenantRateLimitedError extends TenancyError {
  constructor(
    id: string,
    perSecond: number,
    /** Seconds until the tenant may start a request again (the Retry-After header). */
    readonly retryAfterSeconds: number,
    /** Requests the tier allows per window (the policy's quota). Default: `perSecond`, at least 1. */
    readonly limit = Math.max(1, perSecond),
    /** The window of `limit`, in whole seconds (rounded up). Default 1. */
    readonly windowSeconds = 1,
  ) {
    super(
      `Tenant '${id}' is sending more than the ${perSecond} requests per second its tier allows. Retry after the Retry-After delay.`,
      HttpStatus.TOO_MANY_REQUESTS,
      'Too Many Requests',
    );
  }

  /**
   * The answer's rate-limit header fields (lower-case names), per
   * draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy: "tenant";q=<limit>;w=<window s>`
   * (the tier's quota per window) and `RateLimit: "tenant";r=0;t=<seconds>` (none left, back after
   * the Retry-After delay).
   */
  headers(): Record<string, string> {
    return {
      'ratelimit-policy': `"tenant";q=${this.limit};w=${this.windowSeconds}`,
      ratelimit: `"tenant";r=0;t=${this.retryAfterSeconds}`,
    };
  }
}

/**
 * Raised in code, never by a request: a query ran on a unit of work that was not started yet. An
 * HTTP request's unit starts in the tenancy interceptor, after the body has arrived (so a slow body
 * holds no database resource): query from controllers, pipes, services or interceptors, not from a
 * middleware or guard; outside HTTP use `TenancyService.run`.
 */
export class UnitOfWorkNotStartedError extends TenancyError {
  constructor(tenantId: string) {
    super(
      `The unit of work of tenant '${tenantId}' has not started: query from a controller or service (the tenancy interceptor starts the unit after the request body has arrived), or inside TenancyService.run().`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/** Raised in code, never by a request: a tenant-owned query ran with no tenant in context. */
export class NoTenantContextError extends TenancyError {
  constructor() {
    super(
      'No tenant in context: call this inside an HTTP request with a resolved tenant or inside TenancyService.run(tenantId, fn).',
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/**
 * Raised in code, never by a request: a per-tenant (durable) provider built for one tenant, such as
 * the `CURRENT_TENANT_DATA_SOURCE`, was used in another tenant's unit of work (kept beyond its
 * request, or called inside `TenancyService.run` for another tenant). Nothing reached the database.
 */
export class TenantScopeMismatchError extends TenancyError {
  constructor(builtFor: string, current: string) {
    super(
      `A per-tenant provider built for tenant '${builtFor}' was used in the unit of work of tenant '${current}': inject it only where Nest builds it for the request (request-scoped providers and controllers), or use the singleton TenantDataSource, which follows the current tenant.`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/**
 * Raised in code, never by a client's mistake: tenant resolution ran outside any nestjs-cls context,
 * so the tenant could not be carried. With `cls: 'app'` the app must mount nestjs-cls's middleware
 * on every route before the module's.
 */
export class ClsContextMissingError extends TenancyError {
  constructor() {
    super(
      "No nestjs-cls context is active where the tenant is resolved. With TenancyModule's cls: 'app', mount nestjs-cls's middleware on every route (ClsModule.forRoot({ middleware: { mount: true } })), or leave cls at 'own' and the module mounts it.",
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/**
 * A query after the unit of work ended: the response was already sent, the client went away (its
 * transaction was rolled back), or code ran after `TenancyService.run` returned.
 */
export class UnitOfWorkEndedError extends TenancyError {
  constructor(tenantId: string) {
    super(
      `The unit of work of tenant '${tenantId}' has already ended: run queries before the response is sent or inside TenancyService.run().`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

/**
 * The unit of work's transaction was aborted by a failed statement whose error the code caught and
 * did not rethrow: PostgreSQL rolled everything back at COMMIT, so nothing of the unit was saved.
 */
export class UnitOfWorkAbortedError extends TenancyError {
  constructor(tenantId: string) {
    super(
      `A statement in the unit of work of tenant '${tenantId}' failed and its error was caught, so the whole transaction was rolled back and nothing was saved. Let database errors propagate, or run the statement that may fail inside TenantDataSource.transaction() (a savepoint).`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/** A tenant definition (from the admin API or CLI) that cannot be provisioned as given. */
export class InvalidTenantDefinitionError extends TenancyError {
  constructor(message: string) {
    super(message, HttpStatus.BAD_REQUEST, 'Bad Request');
  }
}

/** A lifecycle operation that the tenant's current state does not allow. */
export class TenantStateError extends TenancyError {
  constructor(message: string) {
    super(message, HttpStatus.CONFLICT, 'Conflict');
  }
}

/**
 * A tenant migration left objects the runtime role would use without tenant isolation. Raised by the
 * migration runner inside the migration's transaction, so the migration rolls back and nothing is
 * granted. `objects`: each offending table, view or function and what it lacks.
 */
export class UnsafeTenantTableError extends TenancyError {
  constructor(
    readonly schema: string,
    readonly objects: { kind: string; name: string; lacks: string[] }[],
  ) {
    super(
      `Tenant migrations of schema '${schema}' were rolled back and nothing was granted: the runtime role would reach objects that do not isolate tenants.\n` +
        objects.map((o) => `  - ${o.kind} ${o.name}: ${o.lacks.join('; ')}`).join('\n') +
        `\nCreate tenant tables with the tenancy library's createTenantTable() or tenantTable(), or add what is missing, then migrate again.`,
      HttpStatus.INTERNAL_SERVER_ERROR,
      'Internal Server Error',
    );
  }
}

/**
 * 503: a tenant was deleted, suspended or moved, but a lifecycle listener (the tenant cache: its
 * store did not answer) could not forget the tenant's old state, which could then still be served.
 * A delete is not finished (the tenant stays `deleting`, out of service) and a suspension stays in
 * place: run the operation again once the listener's store is back. `failures`: `<listener>: <why>`.
 */
export class TenantLifecycleHookError extends TenancyError {
  readonly retryAfterSeconds = 5;
  constructor(
    readonly tenantId: string,
    readonly kind: 'deleted' | 'moved' | 'suspended',
    readonly failures: string[],
  ) {
    const done = { deleted: 'its rows were deleted', moved: 'it was moved', suspended: 'it was suspended' }[kind];
    const next = {
      deleted: "the delete is not finished (the tenant stays 'deleting' and is not served): run the delete again",
      moved: 'the move itself is done: its cached values are the same rows, kept until they expire',
      suspended: 'the suspension holds: run the suspend again',
    }[kind];
    super(
      `Tenant '${tenantId}': ${done}, but what is kept of it elsewhere could not be forgotten (${failures.join('; ')}); ${next} once that is reachable again.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

/**
 * 503: the tenant cache's store (Redis) did not answer an invalidation, so values of the tenant
 * cached before it could still be served once the store is back. Reads and writes of the cache never
 * throw this (a failing store is a miss); only `TenantCache.invalidate` and the lifecycle do.
 */
export class TenantCacheUnavailableError extends TenancyError {
  readonly retryAfterSeconds = 5;
  constructor(tenantId: string, cause: string) {
    super(
      `The tenant cache could not invalidate what it holds of tenant '${tenantId}' (its store did not answer: ${cause}). Retry once the cache's store is reachable.`,
      HttpStatus.SERVICE_UNAVAILABLE,
      'Service Unavailable',
    );
  }
}

/** Invalid tenancy configuration: raised at start, names the key and the tenant. */
export class TenancyConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`Invalid tenancy configuration in ${file}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'TenancyConfigError';
  }
}

/**
 * A database, schema or role that this deployment is about to create, migrate, move into or drop
 * already exists and was not created by it (another deployment on the same server, or someone
 * else): the deployment never adopts, changes or drops what it did not create.
 */
export class DeploymentOwnershipError extends TenancyError {
  constructor(message: string) {
    super(message, HttpStatus.CONFLICT, 'Conflict');
  }
}

/** `a`, `a or b`, `a, b or c`: the ways to name a tenant, as a sentence says them. */
function oneOf(ways: string[]): string {
  return ways.length < 2 ? ways.join('') : `${ways.slice(0, -1).join(', ')} or ${ways[ways.length - 1]}`;
}
