import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { TenantRecord } from '../core/tenant-record';
import { admissionFor, clientQueryTimeout, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { ServiceStoppingError, TenantBusyError, TenantRateLimitedError } from '../errors/tenancy.errors';
import { TENANCY_RATE_STORE } from './rate-limit-store';

type Tenant = Pick<TenantRecord, 'id' | 'tier'>;

/** The throttler name of the tenants' rate in the store (a part of each key there). */
const RATE_THROTTLER = 'tenant-rate';
/** A store that fails is reported at most once in this long, in milliseconds. */
const STORE_WARNING_MILLIS = 10_000;

/** A tier's limits, worked out once: its `rate` as a throttler's limit per window. */
interface Limits {
  concurrency: number;
  rate?: { perSecond: number; limit: number; windowMillis: number };
  /** The tier's `throttleWhenNoisy`: the rate applies only to its tenants held as noisy. */
  onlyWhenNoisy: boolean;
}

/**
 * Admits a tenant's units of work (requests being served, `TenancyService.run` calls) against its
 * tier's limits: at most `concurrency` in flight at once in this process, and, when the tier sets a
 * `rate`, at most `rate.burst` started per window of `burst / perSecond` seconds, counted by
 * `@nestjs/throttler`'s storage (`TENANCY_RATE_STORE`: this process's memory by default, a Redis
 * shared by every instance when `rateLimitStore.redisUrl` is set) under the key
 * `<deploymentKey>:<tenant id>`. A tenant past either is refused at once with 429, so a flood from
 * one tenant costs it 429s instead of the server's time: the others keep theirs.
 *
 * Concurrency is per instance: a slot is a request in progress here, given back when it ends; with
 * N instances a tenant may have N times `concurrency` in progress. The rate is per instance too
 * with the memory store, and one limit across instances with a shared store.
 *
 * A tenant refused for its rate is refused again, without asking the store, until the Retry-After
 * it was given has passed (the verdict is cached here): that is what the shedding middleware
 * consults, synchronously, before anything else of the request runs.
 *
 * At shutdown it starts no more units (503, `ServiceStoppingError`) and waits for the units in flight
 * to end before the pools close.
 */
@Injectable()
export class TenantAdmission implements BeforeApplicationShutdown {
  private readonly logger = new Logger('TenantAdmission');
  private readonly inFlight = new Map<string, number>();
  /** Tenants refused for their rate, with when (this clock) their Retry-After ends. */
  private readonly blockedUntil = new Map<string, number>();
  private readonly limits = new Map<string, Limits>();
  /** Tenants held to their tier's rate for being noisy (see `throttle`). */
  private readonly throttled = new Set<string>();
  private storeWarnedAt = -Infinity;
  private total = 0;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
    @Inject(TENANCY_RATE_STORE) private readonly store: ThrottlerStorage,
  ) {}

  /**
   * Takes a slot of `tenant` and, when its tier has a `rate`, counts the unit in the rate store;
   * gives the function that gives the slot back (once; later calls do nothing). Without a rate it
   * answers at once; with one, once the store has counted (a promise).
   * @throws TenantBusyError (429, Retry-After 1 s) when the tenant's slots are all taken.
   * @throws TenantRateLimitedError (429, Retry-After until the store's block ends) past the tier's
   * rate; the slot is then given back.
   * @throws ServiceStoppingError (503) once the app is shutting down.
   */
  enter(tenant: Tenant): (() => void) | Promise<() => void> {
    if (this.stopping) throw new ServiceStoppingError();
    this.check(tenant);
    const rate = this.rateOf(tenant);
    this.inFlight.set(tenant.id, (this.inFlight.get(tenant.id) ?? 0) + 1);
    this.total++;
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      const n = (this.inFlight.get(tenant.id) ?? 1) - 1;
      if (n > 0) this.inFlight.set(tenant.id, n);
      else this.inFlight.delete(tenant.id);
      if (--this.total === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    };
    if (!rate) return leave;
    return this.count(tenant.id, rate).then(
      () => leave,
      (err: unknown) => {
        leave();
        throw err;
      },
    );
  }

  /**
   * Counts one unit of `tenantId` in the store. A store that fails (Redis away) admits the unit
   * uncounted and says so in the log, at most every 10 s: the rate is a fairness limit, and losing
   * it for a moment is better than refusing every tenant.
   */
  private async count(tenantId: string, rate: NonNullable<Limits['rate']>): Promise<void> {
    const key = `${this.options.deploymentKey}:${tenantId}`;
    let record;
    try {
      record = await this.store.increment(key, rate.windowMillis, rate.limit, rate.windowMillis, RATE_THROTTLER);
    } catch (err) {
      const now = this.now();
      if (now - this.storeWarnedAt >= STORE_WARNING_MILLIS) {
        this.storeWarnedAt = now;
        this.logger.warn(
          `The rate limit store did not answer (${(err as Error)?.message}): requests are admitted uncounted until it does.`,
        );
      }
      return;
    }
    if (!record.isBlocked) return;
    const retryAfterSeconds = Math.max(1, record.timeToBlockExpire);
    this.blockedUntil.set(tenantId, this.now() + retryAfterSeconds * 1000);
    throw this.rateError(tenantId, rate, retryAfterSeconds);
  }

  private rateError(tenantId: string, rate: NonNullable<Limits['rate']>, retryAfterSeconds: number): TenantRateLimitedError {
    return new TenantRateLimitedError(tenantId, rate.perSecond, retryAfterSeconds, rate.limit, Math.ceil(rate.windowMillis / 1000));
  }

  /**
   * From now on no unit of work starts (each gets `ServiceStoppingError`, 503); resolves once the
   * units in flight have ended, or after the longest a statement may take plus 1 s. It runs before
   * any provider's `onApplicationShutdown`, so the pools close only after the units are done.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.whenIdle(clientQueryTimeout(this.options));
  }

  /**
   * Resolves once no unit of work is in flight, or after `maxMillis`, whichever comes first, with
   * whether they all ended. The pools wait for this before they close, so a request the HTTP server
   * let go of (its client left) does not find its connection gone.
   */
  whenIdle(maxMillis: number): Promise<boolean> {
    if (this.total === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), maxMillis);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Refuses, without taking anything, a tenant past its limits: a flood is then shed before its
   * body is read and before the rest of the request pipeline runs.
   * @throws TenantBusyError or TenantRateLimitedError (429), as `enter`.
   */
  check(tenant: Tenant): void {
    const refusal = this.refusal(tenant);
    if (refusal) throw refusal();
  }

  /**
   * Why `tenant` would be refused now, as a function building the error (so a caller that only
   * needs a yes/no, or writes the answer itself, pays nothing for an Error's stack), or undefined:
   * all its slots are taken, or it was refused for its rate and the Retry-After it got has not
   * passed yet. Synchronous, asks no store.
   */
  refusal(tenant: Tenant): (() => TenantBusyError | TenantRateLimitedError) | undefined {
    const { concurrency } = this.limitsOf(tenant.tier);
    if ((this.inFlight.get(tenant.id) ?? 0) >= concurrency) return () => new TenantBusyError(tenant.id, concurrency);
    if (this.blockedUntil.size === 0) return undefined;
    const rate = this.rateOf(tenant);
    if (!rate) return undefined;
    const until = this.blockedUntil.get(tenant.id);
    if (until === undefined) return undefined;
    const left = until - this.now();
    if (left <= 0) {
      this.blockedUntil.delete(tenant.id);
      return undefined;
    }
    return () => this.rateError(tenant.id, rate, Math.max(1, Math.ceil(left / 1000)));
  }

  /**
   * Holds `tenantId` to its tier's rate (`on`), or lets it go (`!on`): what a tier with
   * `throttleWhenNoisy` gets while its tenant is noisy. Tenants of other tiers are counted against
   * their rate anyway. Returns whether the tenant's tier applies the rate only when noisy.
   */
  throttle(tenant: Tenant, on: boolean): boolean {
    const { onlyWhenNoisy } = this.limitsOf(tenant.tier);
    // Only a tier that applies its rate when noisy holds its tenants: the others are not changed.
    if (on && onlyWhenNoisy) this.throttled.add(tenant.id);
    else if (!on) {
      this.throttled.delete(tenant.id);
      if (onlyWhenNoisy) this.blockedUntil.delete(tenant.id);
    }
    return onlyWhenNoisy;
  }

  /**
   * Whether `tenant` is held to its tier's rate for being noisy now: held by `throttle` and its
   * tier (now) has `throttleWhenNoisy`. False for a noisy tenant of any other tier.
   */
  isThrottled(tenant: Tenant): boolean {
    return this.throttled.has(tenant.id) && this.limitsOf(tenant.tier).onlyWhenNoisy;
  }

  /** The rate `tenant` is counted against now, if any. */
  private rateOf(tenant: Tenant): Limits['rate'] {
    const limits = this.limitsOf(tenant.tier);
    if (limits.onlyWhenNoisy && (this.throttled.size === 0 || !this.throttled.has(tenant.id))) return undefined;
    return limits.rate;
  }

  /** The limits of a tier, worked out once (the options never change): no allocation per request. */
  private limitsOf(tier: string | null | undefined): Limits {
    const key = tier ?? '';
    let limits = this.limits.get(key);
    if (!limits) {
      const { concurrency, rate, onlyWhenNoisy } = admissionFor(this.options, tier);
      limits = {
        concurrency,
        onlyWhenNoisy,
        rate: rate && { perSecond: rate.perSecond, limit: rate.burst, windowMillis: Math.ceil((1000 * rate.burst) / rate.perSecond) },
      };
      this.limits.set(key, limits);
    }
    return limits;
  }

  /** The clock of the cached rate verdicts, in milliseconds (monotonic). */
  protected now(): number {
    return performance.now();
  }

  /** Units of work of `tenantId` in flight now. */
  current(tenantId: string): number {
    return this.inFlight.get(tenantId) ?? 0;
  }

  /**
   * Drops what this process keeps of a tenant that is gone (its cached rate verdict; its slots end
   * with their units; the store forgets its count when the window ends).
   */
  forget(tenantId: string): void {
    this.blockedUntil.delete(tenantId);
    this.throttled.delete(tenantId);
  }
}
