import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsAccess } from './metrics-access';
import { OBSERVABILITY_CONFIG, type ObservabilityConfig } from './observability.config';
import { TenancyMetrics } from './tenancy-metrics';

/**
 * With METRICS_PORT, /metrics is served there (a plain Node server, nothing else on it), so the
 * service's public port never has it; METRICS_TOKEN, when set, is asked for there too.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server?: Server;

  constructor(
    @Inject(OBSERVABILITY_CONFIG) private readonly config: ObservabilityConfig,
    private readonly metrics: TenancyMetrics,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {}

  /** The port the metrics server listens on (undefined without METRICS_PORT). */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    // Only beside an HTTP service: the CLI and `npm run migrate` build the app without one.
    if (this.config.metricsPort === undefined || !this.adapterHost?.httpAdapter) return;
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      const access =
        path === '/metrics' && req.method === 'GET' ? metricsAccess(this.config, true, req.headers.authorization) : 'not-found';
      if (access !== 'allowed') {
        const status = access === 'unauthorized' ? 401 : 404;
        const message =
          access === 'unauthorized'
            ? 'GET /metrics needs the metrics token: send Authorization: Bearer <METRICS_TOKEN>.'
            : `Cannot ${req.method} ${path}`;
        const body = JSON.stringify({ statusCode: status, error: status === 401 ? 'Unauthorized' : 'Not Found', message });
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
        });
        res.end(body);
        return;
      }
      this.metrics.render().then(
        (body) => {
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType, 'cache-control': 'no-store' });
          res.end(body);
        },
        () => {
          res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '5' });
          res.end(
            JSON.stringify({ statusCode: 503, error: 'Service Unavailable', message: 'The metrics could not be read. Retry in a moment.' }),
          );
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.metricsPort, () => resolve());
    });
    this.server = server;
    this.logger.log(`metrics on port ${this.port} at /metrics`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
