import { createHash, timingSafeEqual } from 'node:crypto';
import type { ObservabilityConfig } from './observability.config';

/** What a request for /metrics gets: the metrics, or a refusal. */
export type MetricsAccess = 'allowed' | 'not-found' | 'unauthorized';

/**
 * Whether a request for /metrics on the service's port (`onMetricsPort` false) or on METRICS_PORT
 * (true) may have the metrics. Not public by default: with neither METRICS_TOKEN nor METRICS_PORT,
 * /metrics does not exist (404); with METRICS_PORT it exists only there; a METRICS_TOKEN is asked
 * for as `Authorization: Bearer <token>` (401 without it), on whichever port serves it.
 */
export function metricsAccess(config: ObservabilityConfig, onMetricsPort: boolean, authorization: string | undefined): MetricsAccess {
  if (onMetricsPort !== (config.metricsPort !== undefined)) return 'not-found';
  if (!config.metricsToken) return config.metricsPort !== undefined ? 'allowed' : 'not-found';
  const given = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1] ?? '';
  // Compared as digests: the same length whatever was sent, in constant time.
  const same = timingSafeEqual(digest(given), digest(config.metricsToken));
  return same ? 'allowed' : 'unauthorized';
}

/**
 * Whether /metrics exists at all (METRICS_TOKEN or METRICS_PORT is set). When it does not, nothing
 * could read the request counters and database-time histograms, so they are not recorded: the
 * request path pays for metrics only where they are scraped.
 */
export function metricsServed(config: Pick<ObservabilityConfig, 'metricsToken' | 'metricsPort'>): boolean {
  return config.metricsToken !== undefined || config.metricsPort !== undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
