import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { TenantRecord } from '../core/tenant-record';
import { admissionFor, clientQueryTimeout, ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { ServiceStoppingError, TenantBusyError, TenantRateLimitedError } from '../errors/tenancy.errors';

type Tenant = Pick<TenantRecord, 'id' | 'tier'>;

/** A token bucket (tokens refilled continuously at `perSecond`, up to `burst`). */
interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Admits a tenant's units of work (requests being served, `TenancyService.run` calls) against its
 * tier's limits: at most `concurrency` in flight at once, and, when the tier sets a `rate`, at most
 * `rate.perSecond` started per second on average with bursts of `rate.burst` (a token bucket).
 * A tenant past either is refused at once with 429, so a flood from one tenant costs it 429s
 * instead of the server's time: the others keep theirs.
 *
 * The counts are this process's: with N instances behind a balancer a tenant gets up to N times
 * its limits (as with any in-process limiter; put a shared limiter at the edge for a global one).
 *
 * At shutdown it starts no more units (503, `ServiceStoppingError`) and waits for the units in flight
 * to end before the pools close.
 */
@Injectable()
export class TenantAdmission implements BeforeApplicationShutdown {
  private readonly inFlight = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly limits = new Map<string, ReturnType<typeof admissionFor>>();
  private total = 0;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];

  constructor(@Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions) {}

  /**
   * Takes a slot of `tenant` (and a token of its rate) and returns the function that gives the
   * slot back (once; later calls do nothing).
   * @throws TenantBusyError (429, Retry-After 1 s) when the tenant's slots are all taken.
   * @throws TenantRateLimitedError (429, Retry-After until the next token) past the tier's rate.
   */
  enter(tenant: Tenant): () => void {
    if (this.stopping) throw new ServiceStoppingError();
    this.check(tenant);
    const rate = this.limitsOf(tenant.tier).rate;
    if (rate) this.buckets.get(tenant.id)!.tokens -= 1;
    this.inFlight.set(tenant.id, (this.inFlight.get(tenant.id) ?? 0) + 1);
    this.total++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const n = (this.inFlight.get(tenant.id) ?? 1) - 1;
      if (n > 0) this.inFlight.set(tenant.id, n);
      else this.inFlight.delete(tenant.id);
      if (--this.total === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    };
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
   * needs a yes/no, or writes the answer itself, pays nothing for an Error's stack), or undefined.
   */
  refusal(tenant: Tenant): (() => TenantBusyError | TenantRateLimitedError) | undefined {
    const { concurrency, rate } = this.limitsOf(tenant.tier);
    if ((this.inFlight.get(tenant.id) ?? 0) >= concurrency) return () => new TenantBusyError(tenant.id, concurrency);
    if (!rate) return undefined;
    const now = this.now();
    let bucket = this.buckets.get(tenant.id);
    if (!bucket) this.buckets.set(tenant.id, (bucket = { tokens: rate.burst, at: now }));
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) return undefined;
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / rate.perSecond));
    return () => new TenantRateLimitedError(tenant.id, rate.perSecond, retryAfterSeconds);
  }

  /** The limits of a tier, worked out once (the options never change): no allocation per request. */
  private limitsOf(tier: string | null | undefined): ReturnType<typeof admissionFor> {
    const key = tier ?? '';
    let limits = this.limits.get(key);
    if (!limits) this.limits.set(key, (limits = admissionFor(this.options, tier)));
    return limits;
  }

  /** The clock of the rate buckets, in milliseconds (monotonic). */
  protected now(): number {
    return performance.now();
  }

  /** Units of work of `tenantId` in flight now. */
  current(tenantId: string): number {
    return this.inFlight.get(tenantId) ?? 0;
  }

  /** Drops what is kept of a tenant that is gone (its bucket; its slots end with their units). */
  forget(tenantId: string): void {
    this.buckets.delete(tenantId);
  }
}
