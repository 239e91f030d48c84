import { Controller, Get, Header, Headers, HttpException, HttpStatus, Inject, NotFoundException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { metricsAccess } from './metrics-access';
import { OBSERVABILITY_CONFIG, type ObservabilityConfig } from './observability.config';
import { TenancyMetrics } from './tenancy-metrics';

/** GET /metrics on the service's port, when METRICS_TOKEN is set and METRICS_PORT is not (see `metricsAccess`). */
@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(
    @Inject(OBSERVABILITY_CONFIG) private readonly config: ObservabilityConfig,
    private readonly metrics: TenancyMetrics,
  ) {}

  @Get()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @Header('Cache-Control', 'no-store')
  async scrape(@Headers('authorization') authorization: string | undefined): Promise<string> {
    const access = metricsAccess(this.config, false, authorization);
    // The same answer as a path the service does not have.
    if (access === 'not-found') throw new NotFoundException('Cannot GET /metrics');
    if (access === 'unauthorized') {
      throw new HttpException(
        {
          statusCode: 401,
          error: 'Unauthorized',
          message: 'GET /metrics needs the metrics token: send Authorization: Bearer <METRICS_TOKEN>.',
        },
        HttpStatus.UNAUTHORIZED,
      );
    }
    return this.metrics.render();
  }
}
