import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { AppConfig } from '../config/app.config';
import { currentLogging } from './logging';
import { MetricsController } from './metrics.controller';
import { MetricsServer } from './metrics-server';
import { OBSERVABILITY_CONFIG, type ObservabilityConfig } from './observability.config';
import { TenancyMetrics } from './tenancy-metrics';
import { TracingService } from './tracing';

/**
 * Logs (nestjs-pino over the logging `createLogging` built: its Logger and PinoLogger for
 * injection, the request's logger in the async context), Prometheus metrics (TenancyMetrics,
 * GET /metrics on the service's port or on METRICS_PORT), and OpenTelemetry spans when an OTLP
 * endpoint is configured (TracingService). The request log line and the request
 * counters are mounted by `createApp` before every route, so they see every request, also one
 * refused before routing.
 */
@Module({
  imports: [
    // useExisting: pino-http itself is mounted by createApp; this binds each request's logger.
    LoggerModule.forRootAsync({ imports: [], providers: [], useFactory: () => currentLogging().params }),
  ],
  controllers: [MetricsController],
  providers: [
    {
      provide: OBSERVABILITY_CONFIG,
      inject: [ConfigService],
      useFactory: (config: ConfigService): ObservabilityConfig => {
        const app = config.getOrThrow<AppConfig>('app');
        return { metricsToken: app.metricsToken, metricsPort: app.metricsPort, topTenants: app.metricsTopTenants };
      },
    },
    TenancyMetrics,
    MetricsServer,
    TracingService,
  ],
  exports: [TenancyMetrics, MetricsServer, TracingService],
})
export class ObservabilityModule {}
