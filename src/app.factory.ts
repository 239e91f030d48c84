import { INestApplication, LoggerService, NestApplicationOptions, Type, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import { AppLogger } from './common/app-logger';
import { readJsonBody } from './common/json-body';
import { buildOpenApiDocument } from './common/openapi';
import { ShutdownDrain } from './common/shutdown-drain';
import { httpPlatformFromEnv } from './config/app.config';
import { applyHttpTimeouts, httpTimeoutsFromEnv } from './http-timeouts';
import { createLogging } from './observability/logging';
import { metricsServed } from './observability/metrics-access';
import { OBSERVABILITY_CONFIG, type ObservabilityConfig } from './observability/observability.config';
import { requestMetricsMiddleware } from './observability/request-metrics.middleware';
import { markRoute } from './observability/request-route';
import { TenancyMetrics } from './observability/tenancy-metrics';
import { TracingService } from './observability/tracing';
import type { LogLevel } from './config/app.config';

/** What `createApp` logs. */
export interface CreateAppOptions {
  /**
   * Nest's log levels to keep (`log` means pino's `info` or LOG_LEVEL, `warn` warn, `error`
   * error), or `false` for no logs at all. Default: LOG_LEVEL, else info.
   */
  logger?: false | ('error' | 'warn' | 'log')[];
  /** Where the JSON log lines go instead of standard output (tests read them). */
  logDestination?: DestinationStream;
  /**
   * Makes the Nest application of a module, on a Fastify adapter or, without one, on Express.
   * Default `NestFactory.create`; the e2e tests give one that compiles a testing module
   * (`Test.createTestingModule`) and calls its `createNestApplication`.
   */
  build?: AppBuilder;
}

export type AppBuilder = (
  module: Type<unknown>,
  adapter: FastifyAdapter | undefined,
  options: NestApplicationOptions,
) => Promise<INestApplication>;

const nestFactory: AppBuilder = (module, adapter, options) =>
  adapter ? NestFactory.create<NestFastifyApplication>(module, adapter, options) : NestFactory.create(module, options);

/**
 * Builds the service as `npm start` runs it; the e2e tests use the same wiring (with `build`, the
 * app comes from a testing module). On Fastify by default, on Express with HTTP_PLATFORM=express:
 * the same routes, limits and error answers.
 */
export async function createApp(options: CreateAppOptions = {}): Promise<INestApplication> {
  const logging = createLogging({ level: logLevelOf(options.logger), destination: options.logDestination });
  const logger = options.logger === false ? false : new AppLogger(logging);
  const build = options.build ?? nestFactory;
  const app = httpPlatformFromEnv() === 'express' ? await createExpressApp(build, logger) : await createFastifyApp(build, logger);
  // Before every route and every Nest middleware (Nest registers those when the app initializes),
  // so a request refused before routing (an unknown tenant, a stopping service) has its log line
  // and its count too: the request line (pino-http), the request metrics, then the shutdown drain.
  // With OTEL_EXPORTER_OTLP_ENDPOINT, each request's span opens first, around everything else.
  const tracing = await app.get(TracingService).start();
  if (tracing) app.use(tracing);
  app.use(logging.http);
  if (metricsServed(app.get<ObservabilityConfig>(OBSERVABILITY_CONFIG))) app.use(requestMetricsMiddleware(app.get(TenancyMetrics)));
  app.use(app.get(ShutdownDrain).middleware);
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      // Validation messages name the field and the rule, never echo the value.
      validationError: { target: false, value: false },
    }),
  );
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app));
  applyHttpTimeouts(app.getHttpServer(), httpTimeoutsFromEnv());
  return app;
}

/** pino's level for Nest's log levels (see `CreateAppOptions.logger`). */
function logLevelOf(levels: CreateAppOptions['logger']): LogLevel | undefined {
  if (levels === false) return 'silent';
  if (!levels || levels.includes('log')) return undefined;
  return levels.includes('warn') ? 'warn' : 'error';
}

// abortOnError: false makes a start-up error (say, an invalid tenants file) reject at create, so
// the caller prints its message and exits, instead of Nest exiting the process on its own. The
// JSON body parser is the app's own (JsonBodyMiddleware on Express, readJsonBody on Fastify).
const NEST_OPTIONS = { bodyParser: false, abortOnError: false } as const;

async function createExpressApp(build: AppBuilder, logger: LoggerService | false): Promise<INestApplication> {
  const app = await build(AppModule, undefined, { ...NEST_OPTIONS, logger });
  app.getHttpServer().on('clientError', answerClientErrorAsJson);
  return app;
}

async function createFastifyApp(build: AppBuilder, logger: LoggerService | false): Promise<INestApplication> {
  const adapter = new FastifyAdapter({
    // Routed as Express routes: without regard to case or a trailing slash, and a path parameter
    // of any length (Node's header size limit bounds the URL).
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 16 * 1024 },
    clientErrorHandler: answerClientErrorAsJson,
    frameworkErrors: answerRouterErrorAsJson,
    // While stopping, ShutdownDrain answers 503 with Retry-After on both platforms (Fastify's own
    // 503 has none).
    return503OnClosing: false,
  });
  // The route template that matched, for the request's log line and metrics (Express keeps its
  // own). Added before NestFactory.create registers middie, so it runs before every middleware and
  // marks also a request that a middleware refuses (an unknown tenant).
  adapter
    .getInstance()
    .addHook('onRequest', (request: { raw: IncomingMessage; routeOptions?: { url?: string } }, _reply: unknown, done: () => void) => {
      markRoute(request.raw, request.routeOptions?.url);
      done();
    });
  const app = (await build(AppModule, adapter, { ...NEST_OPTIONS, logger })) as NestFastifyApplication;
  const fastify = app.getHttpAdapter().getInstance();
  // JSON as on Express; any other body is left unread, as express.json leaves it (a DTO then
  // finds no fields), rather than refused with 415.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', (req: { headers: IncomingHttpHeaders }, payload: IncomingMessage) =>
    readJsonBody(payload, req.headers),
  );
  fastify.addContentTypeParser('*', (_req: unknown, _payload: unknown, done: (err: null, body: undefined) => void) =>
    done(null, undefined),
  );
  return app;
}

/**
 * What Fastify's router refuses before any hook or filter runs (a path whose percent-encoding does
 * not decode), answered with the JSON error body of every other error, as on Express, whose router
 * error reaches the exception filter.
 */
function answerRouterErrorAsJson(_error: Error, _request: unknown, reply: { raw: ServerResponse }): void {
  const body = JSON.stringify({
    statusCode: 400,
    error: 'Bad Request',
    message: 'The request URL cannot be decoded: percent-encode it correctly (a % starts two hex digits of UTF-8).',
  });
  reply.raw.writeHead(400, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  reply.raw.end(body);
}

const CLIENT_ERROR_MESSAGES: Record<number, string> = {
  400: 'The request is not valid HTTP: a header or the URL holds a character that is not allowed (send ASCII, percent-encode the URL).',
  408: 'The request took too long to arrive.',
  413: 'The request chunk extensions are too large.',
  431: 'The request headers are too large.',
};

/**
 * A request Node's HTTP parser refuses (a NUL or control character in a header, a raw non-ASCII
 * byte in the URL, headers over the size limit) never reaches Nest, and Node (or Fastify) answers
 * it with a bare status line. The server's `clientError` handler answers it with the same JSON
 * error body as every other error instead.
 */
function answerClientErrorAsJson(err: NodeJS.ErrnoException, socket: Duplex & { bytesWritten?: number }): void {
  if (err.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
        ? 413
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : 400;
  const body = JSON.stringify({ statusCode: status, error: STATUS_CODES[status], message: CLIENT_ERROR_MESSAGES[status] });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
