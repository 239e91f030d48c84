import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../config/tenancy-options';
import { errorMessage } from '../core/error-message';
import { TenantCache } from './tenant-cache';

/** How a route's answers are kept (from `@TenantCacheable({ responseCache })`). */
export interface ResponseCachePolicy {
  /** Time to live of an answer, in milliseconds. */
  ttlMillis: number;
  /** Whether the request's credentials (`Authorization`, `Cookie`) are part of the key. */
  perCredentials: boolean;
}

/** A lookup's outcome: a kept answer, or what to keep the handler's answer under. */
export type ResponseLookup = { hit: true; value: unknown } | { hit: false; key?: string };

/**
 * The response cache of `@TenantCacheable({ responseCache })` GET routes, in the tenant cache's
 * store (see `TenantCache`), on when `cache.responseTtlSeconds` is above 0.
 *
 * **Key.** `nest-tenancy:<deployment id>:<tenant>:<generation>:r:<data generation>:<hash>`, the hash
 * being SHA-256 of the method, the whole URL (path and query), `Accept` and, unless the route says
 * `perCredentials: false`, the `Authorization` and `Cookie` headers: an answer is only ever served
 * to the same tenant, for the same request, with the same credentials, and the credentials
 * themselves are never written into a key.
 *
 * **Invalidation.** The tenant's data generation (`nest-tenancy:<deployment id>:<tenant>:data`, a
 * random token) is replaced after every unit of work that may have written (any method but GET,
 * HEAD and OPTIONS, and every `TenancyService.run`) and sent a statement, after its commit and before
 * its answer is sent: a client that got a write's answer never reads an answer cached before it.
 * Both generations are read before the handler runs, so an answer computed while a write commits is
 * kept under the old generation and never served. A write in a GET handler is not seen: call
 * `dataChanged` yourself there.
 *
 * **A failing store.** Lookups are misses and answers are not kept. A data generation that could not
 * be replaced is retried before this instance serves anything of the tenant from the cache again;
 * other instances (sharing a Redis this one could not reach) may serve answers older than that
 * write until their time to live ends: keep `responseTtlSeconds` short.
 */
@Injectable()
export class TenantResponseCache {
  private readonly logger = new Logger('TenantResponseCache');
  /** Tenants whose data generation this instance could not replace after a write. */
  private readonly stale = new Set<string>();

  constructor(
    private readonly cache: TenantCache,
    @Inject(TENANCY_OPTIONS) private readonly options: ResolvedTenancyOptions,
  ) {}

  /** Whether the response cache is on (`cache.responseTtlSeconds` above 0). */
  get enabled(): boolean {
    return this.options.cache.responseTtlSeconds > 0;
  }

  /** The route's policy: its own `ttlSeconds`, else the module's `cache.responseTtlSeconds`. */
  policy(options: { ttlSeconds?: number; perCredentials?: boolean }): ResponseCachePolicy {
    const seconds = options.ttlSeconds ?? this.options.cache.responseTtlSeconds;
    return { ttlMillis: Math.max(1, Math.round(seconds * 1000)), perCredentials: options.perCredentials ?? true };
  }

  /**
   * The kept answer of `req` for the tenant, or the key to keep the handler's answer under (none
   * when the store fails). Never throws: anything wrong is a miss.
   */
  async lookup(tenantId: string, req: IncomingMessage, policy: ResponseCachePolicy): Promise<ResponseLookup> {
    try {
      return await this.find(tenantId, req, policy);
    } catch (err) {
      this.logger.warn(`tenant ${tenantId}: the response cache's lookup failed (${errorMessage(err)}); served uncached`);
      return { hit: false };
    }
  }

  private async find(tenantId: string, req: IncomingMessage, policy: ResponseCachePolicy): Promise<ResponseLookup> {
    if (this.stale.has(tenantId) && !(await this.dataChanged(tenantId))) return { hit: false };
    const dataKey = this.dataKey(tenantId);
    const found = await this.cache.generations(tenantId, [dataKey]);
    if (!found) return { hit: false };
    const [generation, stored] = found;
    let data = typeof stored === 'string' ? stored : undefined;
    if (data === undefined) {
      data = randomBytes(9).toString('base64url');
      if (!(await this.cache.write(dataKey, data, 0))) return { hit: false };
    }
    const key = `${this.cache.tenantPrefix(tenantId)}${generation}:r:${data}:${requestHash(req, policy.perCredentials)}`;
    const body = await this.cache.read<string>(key);
    if (typeof body === 'string') return { hit: true, value: JSON.parse(body) };
    return { hit: false, key };
  }

  /** Keeps a 200 answer's value (as its JSON) under `key`. Never throws. */
  async keep(key: string, value: unknown, policy: ResponseCachePolicy): Promise<void> {
    if (value === undefined) return;
    let body: string;
    try {
      body = JSON.stringify(value);
    } catch {
      return;
    }
    await this.cache.write(key, body, policy.ttlMillis);
  }

  /**
   * Makes every answer kept for the tenant unreachable (a new data generation). Called after each
   * unit of work that may have written; call it yourself after a write the kit does not see. Never
   * throws: on a failing store the tenant is left uncached in this instance until it succeeds.
   * @returns whether the new generation was written (true too while the response cache is off).
   */
  async dataChanged(tenantId: string): Promise<boolean> {
    if (!this.enabled) return true;
    if (await this.cache.write(this.dataKey(tenantId), randomBytes(9).toString('base64url'), 0)) {
      this.stale.delete(tenantId);
      return true;
    }
    if (!this.stale.has(tenantId))
      this.logger.warn(
        `tenant ${tenantId}: a write could not invalidate its cached answers; this instance serves it uncached until it can`,
      );
    this.stale.add(tenantId);
    return false;
  }

  private dataKey(tenantId: string): string {
    return `${this.cache.tenantPrefix(tenantId)}data`;
  }
}

/** SHA-256 of what makes two requests the same answer: method, URL, Accept, and the credentials when asked. */
function requestHash(req: IncomingMessage, perCredentials: boolean): string {
  const hash = createHash('sha256');
  hash.update(`${req.method}\n${req.url}\n${req.headers.accept ?? ''}\n`);
  if (perCredentials) hash.update(`${req.headers.authorization ?? ''}\n${req.headers.cookie ?? ''}`);
  return hash.digest('base64url');
}
