import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TenancyMetrics } from './tenancy-metrics';

/**
 * Counts every request once its response has closed (answered, or its client gone): Express-style
 * middleware, mounted before every route on both platforms.
 */
export function requestMetricsMiddleware(metrics: TenancyMetrics) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const startedAt = performance.now();
    res.once('close', () => metrics.observeRequest(req, res, startedAt));
    next();
  };
}
