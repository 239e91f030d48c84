import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Span } from '@opentelemetry/api';
import type { SpanExporter, SpanProcessor, ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { TenantActivity, tenantLogFields, tenantRequestInfo, type TenantActivitySample } from '../../libs/tenancy/src';
import { routeOf } from './request-route';

type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** What `TracingService.start` is told. */
export interface TracingOptions {
  /** OTLP/HTTP collector (traces go to `<endpoint>/v1/traces`); default OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint?: string;
  /** An exporter of your own instead of OTLP (tests pass an in-memory one). */
  exporter?: SpanExporter;
  /** `service.name` of the spans; default OTEL_SERVICE_NAME, else `nest-tenancy`. */
  serviceName?: string;
}

/**
 * OpenTelemetry tracing, only when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT):
 * without one, `start` returns undefined and no OpenTelemetry SDK module is even loaded.
 *
 * - one server span per HTTP request (`GET /users/:id`), child of the caller's `traceparent`,
 *   with `http.request.method`, `http.route`, `http.response.status_code`, and for a tenant's
 *   request `tenant.id`, `tenant.model`, `tenant.tier` and `tenancy.database_ms`;
 * - one `tenancy.run` span per `TenancyService.run` (a job, a CLI command), with the same tenant
 *   attributes;
 * - every other span started inside a tenant's unit of work (your own, or an instrumentation's)
 *   gets `tenant.id` and `tenant.model` when it starts.
 */
@Injectable()
export class TracingService implements OnApplicationShutdown {
  private provider?: { forceFlush(): Promise<void>; shutdown(): Promise<void> };
  private unsubscribe?: () => void;
  private disable?: () => void;

  constructor(private readonly activity: TenantActivity) {}

  /** Whether spans are being recorded. */
  get enabled(): boolean {
    return this.provider !== undefined;
  }

  /**
   * Starts tracing if an endpoint (or an exporter) is given, and returns the middleware that opens
   * each request's span (mount it before everything else); undefined when tracing stays off.
   */
  async start(options: TracingOptions = {}): Promise<Middleware | undefined> {
    const endpoint = options.endpoint ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (!endpoint && !options.exporter) return undefined;
    const api = await import('@opentelemetry/api');
    const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    const { W3CTraceContextPropagator } = await import('@opentelemetry/core');
    const { resourceFromAttributes } = await import('@opentelemetry/resources');
    let exporter = options.exporter;
    if (!exporter) {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      exporter = new OTLPTraceExporter({ url: `${endpoint!.replace(/\/+$/, '')}/v1/traces` });
    }
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? 'nest-tenancy' }),
      spanProcessors: [new TenantAttributesProcessor(), new BatchSpanProcessor(exporter)],
    });
    const contextManager = new AsyncLocalStorageContextManager().enable();
    api.context.setGlobalContextManager(contextManager);
    api.trace.setGlobalTracerProvider(provider);
    api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    this.provider = provider;
    this.disable = () => {
      api.trace.disable();
      api.context.disable();
      api.propagation.disable();
    };
    const tracer = api.trace.getTracer('nest-tenancy-reference');

    this.unsubscribe = this.activity.subscribe((sample: TenantActivitySample) => {
      if (sample.kind !== 'run') return;
      const end = Date.now();
      const span = tracer.startSpan('tenancy.run', { startTime: end - sample.millis, attributes: tenantAttributes(sample) });
      if (sample.failed) span.setStatus({ code: api.SpanStatusCode.ERROR });
      span.end(end);
    });

    return (req, res, next) => {
      const parent: Context = api.propagation.extract(api.ROOT_CONTEXT, req.headers);
      const span: Span = tracer.startSpan(
        req.method ?? 'GET',
        {
          kind: api.SpanKind.SERVER,
          attributes: { 'http.request.method': req.method ?? 'GET', 'url.path': (req.url ?? '').split('?')[0] },
        },
        parent,
      );
      res.once('close', () => {
        const route = routeOf(req);
        span.updateName(`${req.method} ${route}`);
        span.setAttribute('http.route', route);
        span.setAttribute('http.response.status_code', res.headersSent ? res.statusCode : 0);
        const tenant = tenantRequestInfo(req);
        if (tenant) {
          span.setAttribute('tenant.id', tenant.tenant);
          span.setAttribute('tenant.model', tenant.model);
          if (tenant.tier) span.setAttribute('tenant.tier', tenant.tier);
          span.setAttribute('tenancy.database_ms', tenant.databaseMillis);
        }
        if (!res.headersSent || res.statusCode >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
        span.end();
      });
      api.context.with(api.trace.setSpan(parent, span), next);
    };
  }

  /** Sends the spans ended so far. */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  async onApplicationShutdown(): Promise<void> {
    const provider = this.provider;
    this.provider = undefined;
    this.unsubscribe?.();
    if (!provider) return;
    await provider.shutdown().catch(() => undefined);
    this.disable?.();
  }
}

function tenantAttributes(sample: TenantActivitySample): Record<string, string | number> {
  const attributes: Record<string, string | number> = {
    'tenant.id': sample.tenant.id,
    'tenant.model': sample.tenant.strategy,
    'tenancy.database_ms': sample.databaseMillis,
  };
  if (sample.tenant.tier) attributes['tenant.tier'] = sample.tenant.tier;
  return attributes;
}

/** Gives every span started inside a tenant's unit of work the tenant's id and model. */
class TenantAttributesProcessor implements SpanProcessor {
  onStart(span: Span): void {
    const fields = tenantLogFields();
    if (!fields) return;
    span.setAttribute('tenant.id', fields.tenant);
    span.setAttribute('tenant.model', fields.model);
    if (fields.tier) span.setAttribute('tenant.tier', fields.tier);
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
