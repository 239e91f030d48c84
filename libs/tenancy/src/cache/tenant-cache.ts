import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Deployment } from '../catalog/deployment';
import { TenantCatalog } from '../catalog/tenant-catalog';
import { type TenantLifecycleEvent, TenantLifecycleHooks, type TenantLifecycleListener } from '../catalog/tenant-lifecycle-hooks';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { TenantContext } from '../context/tenant-context';
import { errorMessage } from '../core/error-message';
import { NoTenantContextError, TenantCacheUnavailableError } from '../errors/tenancy.errors';
import { TENANCY_CACHE_STORE, type TenantCacheStore } from './cache-store';
import { StoreHealth } from './store-health';

/** Every key the kit writes starts with this. */
const KEY_PREFIX = 'nest-tenancy';

/** A new generation: 72 random bits, never a counter, so a lost generation key can never come back to an old value. */
function freshGeneration(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * A cache for feature code whose keys always belong to the current tenant: `cache.get('user:42')`
 * reads the current tenant's `user:42`, never another tenant's, in every model and every instance.
 * Built on cache-manager with Keyv stores (see `TenantCacheOptions`: this process's memory by
 * default, Redis with `cache.redisUrl`).
 *
 * **Keys.** `nest-tenancy:<deployment id>:<tenant>:<generation>:k:<key>`: the deployment's id (a
 * UUID, so two deployments sharing one Redis never meet), the tenant id, and the tenant's current
 * generation, a random token kept in the store itself at `nest-tenancy:<deployment id>:<tenant>:gen`.
 *
 * **Invalidation without scanning.** Deleting, moving or suspending a tenant writes a new
 * generation (`invalidate`): every key of the old one is unreachable at once and expires with its
 * time to live; nothing scans the keyspace. In Redis the generation is shared, so one write
 * invalidates the tenant in every instance; in the memory store each instance has its own, and
 * each instance writes a new one when its catalog hears of the change (LISTEN/NOTIFY, about a
 * second). The instance that runs the operation invalidates before the operation is done, and a
 * failure fails the operation (`TenantLifecycleHookError`): a delete is not finished while old values
 * could still be served.
 *
 * **A failing store never fails a request.** Every operation is bounded by `cache.timeoutMillis`
 * (default 500 ms); a store that fails or does not answer makes `get` a miss and `set`/`del` no-ops,
 * said once per outage in the log. Only `invalidate` throws (`TenantCacheUnavailableError`), because
 * its caller must know.
 *
 * Values: anything the store can keep (JSON for Redis). The memory store keeps the object given (as
 * cache-manager's own memory store does): do not change a value after `set` or after `get`.
 *
 * @throws NoTenantContextError from `get`, `set`, `del`, `wrap` and `invalidate()` outside a tenant's
 * context (a request with a resolved tenant, or `TenancyService.run`), as a query there would.
 */
@Injectable()
export class TenantCache implements TenantLifecycleListener, OnModuleInit, OnModuleDestroy {
  readonly name = 'tenant cache';
  private readonly logger = new Logger('TenantCache');
  private readonly health: StoreHealth;
  /** Each tenant's status and place as the catalog last said, to tell a deletion, suspension or move. */
  private readonly known = new Map<string, string>();
  private unregister?: () => void;
  private readonly onCatalogChange = (id: string) => this.catalogChanged(id === '*' ? undefined : id);

  constructor(
    @Inject(TENANCY_CACHE_STORE) private readonly store: TenantCacheStore,
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    private readonly context: TenantContext,
    private readonly deployment: Deployment,
    private readonly catalog: TenantCatalog,
    private readonly hooks: TenantLifecycleHooks,
  ) {
    this.health = new StoreHealth(options.cache.timeoutMillis);
    // cache-manager turns a failed read into a miss and emits the error: that is how a failure is seen.
    const onRead = (data: { error?: unknown }) => data.error !== undefined && this.health.failed(data.error);
    store.cache.on('get', onRead);
    store.cache.on('mget', onRead);
  }

  /** Where the entries are: `memory` (this process), `redis` (shared) or `app` (the app's own store). */
  get storeKind(): TenantCacheStore['kind'] {
    return this.store.kind;
  }

  onModuleInit(): void {
    this.unregister = this.hooks.register(this);
    this.catalog.events.on('change', this.onCatalogChange);
  }

  onModuleDestroy(): void {
    this.unregister?.();
    this.catalog.events.off('change', this.onCatalogChange);
  }

  /**
   * The current tenant's value of `key`, or undefined (a miss, or a store that failed).
   * @throws NoTenantContextError outside a tenant's context.
   */
  async get<T>(key: string): Promise<T | undefined> {
    const tenantId = this.requireTenant();
    const generation = await this.generation(tenantId);
    if (generation === undefined) return undefined;
    return this.read<T>(this.entryKey(tenantId, generation, key));
  }

  /**
   * Keeps `value` under the current tenant's `key` for `ttlMillis` (default `cache.ttlMillis`,
   * 60,000 ms). Skipped when the store fails.
   * @throws NoTenantContextError outside a tenant's context.
   */
  async set<T>(key: string, value: T, ttlMillis?: number): Promise<void> {
    const tenantId = this.requireTenant();
    const generation = await this.generation(tenantId);
    if (generation !== undefined) await this.write(this.entryKey(tenantId, generation, key), value, ttlMillis);
  }

  /**
   * Removes the current tenant's `key`. Skipped when the store fails (the value then lives until
   * its time to live ends: use `invalidate` where that matters).
   * @throws NoTenantContextError outside a tenant's context.
   */
  async del(key: string): Promise<void> {
    const tenantId = this.requireTenant();
    const generation = await this.generation(tenantId);
    if (generation === undefined) return;
    await this.health.run(this.store.cache.del(this.entryKey(tenantId, generation, key))).catch(() => undefined);
  }

  /**
   * The current tenant's value of `key`; on a miss, `compute()`'s result, kept for `ttlMillis`
   * (default `cache.ttlMillis`). The generation is read before `compute` runs, so a value computed
   * while the tenant is invalidated is never served after it. When the store fails, `compute` runs
   * every time.
   * @throws NoTenantContextError outside a tenant's context; whatever `compute` throws.
   */
  async wrap<T>(key: string, compute: () => T | Promise<T>, ttlMillis?: number): Promise<T> {
    const tenantId = this.requireTenant();
    const generation = await this.generation(tenantId);
    if (generation === undefined) return compute();
    const entry = this.entryKey(tenantId, generation, key);
    const cached = await this.read<T>(entry);
    if (cached !== undefined) return cached;
    const value = await compute();
    if (value !== undefined) await this.write(entry, value, ttlMillis);
    return value;
  }

  /**
   * Makes every value cached for the tenant (default: the current one) unreachable, in every
   * instance sharing the store, by writing a new generation. For a tenant id given, works outside
   * any tenant's context (an operator's job).
   * @throws NoTenantContextError with no id outside a tenant's context.
   * @throws TenantCacheUnavailableError when the store does not take the new generation.
   */
  async invalidate(tenantId: string = this.requireTenant()): Promise<void> {
    try {
      await this.health.run(this.store.cache.set(this.generationKey(tenantId), freshGeneration()));
      this.health.ok();
    } catch (err) {
      throw new TenantCacheUnavailableError(tenantId, errorMessage(err));
    }
  }

  /** The lifecycle's call (see `TenantLifecycleHooks`): a deleted, moved or suspended tenant's values go. */
  async onTenantEvent(event: TenantLifecycleEvent): Promise<void> {
    await this.invalidate(event.tenantId);
  }

  /** The current tenant's id. @throws NoTenantContextError outside a tenant's context. */
  requireTenant(): string {
    const id = this.context.tenantId;
    if (id === undefined) throw new NoTenantContextError();
    return id;
  }

  /** `nest-tenancy:<deployment id>:<tenant>:`: the start of every key of the tenant. */
  tenantPrefix(tenantId: string): string {
    return `${KEY_PREFIX}:${this.deployment.id}:${tenantId}:`;
  }

  private generationKey(tenantId: string): string {
    return `${this.tenantPrefix(tenantId)}gen`;
  }

  private entryKey(tenantId: string, generation: string, key: string): string {
    return `${this.tenantPrefix(tenantId)}${generation}:k:${key}`;
  }

  /**
   * The tenant's current generation, and the values of `also` (other keys read in the same round
   * trip), or undefined when the store fails. A tenant without one (first use, or the store lost
   * it) gets a fresh one: a generation is never reused, so a lost one cannot bring old values back.
   */
  async generations(tenantId: string, also: string[] = []): Promise<[generation: string, ...also: unknown[]] | undefined> {
    const failures = this.health.failures;
    let values: unknown[];
    try {
      values = await this.health.run(this.store.cache.mget([this.generationKey(tenantId), ...also]));
    } catch {
      return undefined;
    }
    // cache-manager answers a failed read with misses: an error seen meanwhile means it failed.
    if (this.health.failures !== failures) return undefined;
    this.health.ok();
    const [generation, ...rest] = values;
    if (typeof generation === 'string') return [generation, ...rest];
    const fresh = freshGeneration();
    const written = await this.write(this.generationKey(tenantId), fresh, 0);
    return written ? [fresh, ...rest] : undefined;
  }

  private async generation(tenantId: string): Promise<string | undefined> {
    return (await this.generations(tenantId))?.[0];
  }

  /** A read that is a miss when the store fails. */
  async read<T>(key: string): Promise<T | undefined> {
    const failures = this.health.failures;
    try {
      const value = await this.health.run(this.store.cache.get<T>(key));
      if (this.health.failures !== failures) return undefined;
      this.health.ok();
      return value ?? undefined;
    } catch {
      return undefined;
    }
  }

  /** A write that is skipped when the store fails; true when it was written. `ttlMillis` 0: no expiry. */
  async write(key: string, value: unknown, ttlMillis?: number): Promise<boolean> {
    const ttl = ttlMillis === 0 ? undefined : (ttlMillis ?? this.options.cache.ttlMillis);
    try {
      await this.health.run(this.store.cache.set(key, value, ttl));
      this.health.ok();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Every instance, whatever its store: a tenant that the catalog says is gone, deleting,
   * suspended or somewhere else than before gets a new generation here (for the memory store, the
   * only way another instance's operation reaches this one). Best effort: a failure is logged.
   */
  private catalogChanged(id?: string): void {
    const ids = id === undefined ? new Set([...this.known.keys(), ...this.catalog.list().map((t) => t.id)]) : [id];
    for (const tenantId of ids) {
      const record = this.catalog.get(tenantId);
      const now = record ? `${record.status}@${record.strategy}@${record.server}` : undefined;
      const before = this.known.get(tenantId);
      if (now === undefined) this.known.delete(tenantId);
      else this.known.set(tenantId, now);
      if (before === undefined || before === now) continue;
      const [status, ...place] = before.split('@');
      const [nowStatus, ...nowPlace] = now?.split('@') ?? [];
      const invalidates =
        now === undefined ||
        (nowStatus !== status && (nowStatus === 'deleting' || nowStatus === 'suspended')) ||
        place.join('@') !== nowPlace.join('@');
      if (!invalidates) continue;
      void this.invalidate(tenantId).catch((err) =>
        this.logger.error(`tenant ${tenantId} changed in the catalog but its cache could not be invalidated here: ${errorMessage(err)}`),
      );
    }
  }
}
