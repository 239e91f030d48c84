import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { type DestinationStream, type Logger as PinoRoot, type LoggerOptions } from 'pino';
import type { Params } from 'nestjs-pino';
import { tenantLogFields, tenantRequestInfo } from '../../libs/tenancy/src';
import { httpPlatformFromEnv, type LogLevel } from '../config/app.config';
import { REDACTED_PATHS, redactSecretsIn } from './log-redaction';
import { routeOf } from './request-route';

/** How the service logs: level, format and where to. */
export interface LoggingOptions {
  /** pino level; default LOG_LEVEL, else `info`. `silent` logs nothing. */
  level?: LogLevel;
  /**
   * Where the lines go. Default: standard output, as JSON through an asynchronous buffered writer in
   * production (flushed on exit), and pretty-printed when not in production on a terminal.
   */
  destination?: DestinationStream;
}

/** What the app's logging is made of: the root logger, the HTTP request logger, nestjs-pino's params. */
export interface Logging {
  root: PinoRoot;
  /** Express-style middleware: the request's id, its logger (`req.log`), and its line once the response closes. */
  http: (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
  params: Params;
  /** Writes out what is buffered (before exiting). */
  flush(): void;
}

let current: Logging | undefined;

/**
 * Builds the service's logging. Every line: JSON with `level`, `time`, `msg`; inside a unit of work
 * (an HTTP request after its tenant was resolved, or `TenancyService.run`) also `tenant`, `model`
 * and `tier` (from the library's `tenantLogFields`); inside a request also `reqId`. One request
 * line per request: `reqId`, `method`, `route`, `url`, `status`, `durationMs`, `dbMs` and the tenant.
 * Secrets are redacted (see log-redaction.ts). The last logging built is `currentLogging()`.
 */
export function createLogging(options: LoggingOptions = {}): Logging {
  const level = options.level ?? (process.env.LOG_LEVEL as LogLevel | undefined) ?? 'info';
  const production = process.env.NODE_ENV === 'production';
  let destination = options.destination;
  let flush = () => undefined as void;
  const pinoOptions: LoggerOptions = {
    level,
    base: undefined, // no pid/hostname on every line: the platform adds where it ran
    redact: { paths: REDACTED_PATHS },
    // A fresh object each line: pino merges the line's own fields into it.
    mixin: () => ({ ...tenantLogFields() }),
    hooks: {
      // Messages are free text: a URL with a password or a token in a query string is cut out.
      logMethod(args, method) {
        const values = args as unknown[];
        for (let i = 0; i < values.length; i++) if (typeof values[i] === 'string') values[i] = redactSecretsIn(values[i] as string);
        // An error without a message: pino would take the error's own message, unredacted.
        const first = values[0] as { err?: unknown } | undefined;
        const error = first instanceof Error ? first : first?.err instanceof Error ? first.err : undefined;
        if (error && values[1] === undefined) values[1] = redactSecretsIn(error.message);
        return method.apply(this, args);
      },
    },
    formatters: { level: (label) => ({ level: label }) },
    // An error's message and stack may quote a connection URL: redacted like any message.
    serializers: { err: redactedError },
  };
  if (!destination) {
    if (!production && process.stdout.isTTY) {
      destination = pino.transport({
        target: 'pino-pretty',
        options: { colorize: true, ignore: 'reqId', translateTime: 'SYS:HH:MM:ss.l' },
      });
    } else {
      // Asynchronous and buffered: a log line costs the request no write system call.
      const boom = pino.destination({ dest: 1, sync: !production, minLength: production ? 4096 : 0 });
      destination = boom;
      flush = () => {
        try {
          boom.flushSync();
        } catch {
          // Not ready yet, or already closed: nothing buffered to lose.
        }
      };
    }
  }
  const root = pino(pinoOptions, destination);
  // The request line is written here rather than by pino-http, which binds each request to a
  // child of a child logger: on Node 20 that cost about 20 µs of CPU per request, this one child
  // of the root about 1 µs. nestjs-pino (useExisting) then binds `req.log` to the request's context.
  const http = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const marked = req as IncomingMessage & { id?: unknown; log?: unknown };
    const reqId = requestId(req, res);
    marked.id = reqId;
    if (root.isLevelEnabled('fatal')) {
      const startedAt = performance.now();
      const log = root.child({ reqId });
      marked.log = log;
      res.once('close', () => {
        const line = requestLine(req, res, Math.round((performance.now() - startedAt) * 100) / 100);
        if (!res.writableFinished) log.info(line, 'request aborted');
        else if (res.statusCode >= 500) log.error(line, 'request failed');
        else log.info(line, 'request completed');
      });
    }
    next();
  };
  // nestjs-pino derives its own root from `root` through pino-http: without wrapSerializers
  // false, pino-http would give it serializers of its own in place of the redacting one.
  // Its middleware (which binds `req.log`) on every path, written as the platform matches every
  // path: nestjs-pino's default `*` is the legacy form Nest warns about at start.
  const params: Params = {
    pinoHttp: { logger: root, wrapSerializers: false },
    useExisting: true,
    renameContext: 'context',
    forRoutes: [httpPlatformFromEnv() === 'fastify' ? '{*path}' : '/'],
  };
  current = { root, http, params, flush };
  return current;
}

/** The logging `createLogging` built last (or one built now with the defaults). */
export function currentLogging(): Logging {
  return current ?? createLogging();
}

/** pino's error serializer, with secrets cut out of the message and the stack. */
function redactedError(err: Error): Record<string, unknown> {
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  if (typeof out.message === 'string') out.message = redactSecretsIn(out.message);
  if (typeof out.stack === 'string') out.stack = redactSecretsIn(out.stack);
  return out;
}

const GIVEN_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The caller's `X-Request-Id` when it is a sane one, else a new UUID; echoed in the response. */
function requestId(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && GIVEN_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}

/** The fields of a request's line (reqId comes from the request's child logger). */
function requestLine(req: IncomingMessage, res: ServerResponse, durationMs: number): Record<string, unknown> {
  const tenant = tenantRequestInfo(req);
  const line: Record<string, unknown> = {
    method: req.method,
    route: routeOf(req),
    url: redactSecretsIn((req as { originalUrl?: string }).originalUrl ?? req.url ?? ''),
    status: res.headersSent ? res.statusCode : 0,
    durationMs,
  };
  if (tenant) {
    line.tenant = tenant.tenant;
    line.model = tenant.model;
    if (tenant.tier) line.tier = tenant.tier;
    line.dbMs = Math.round(tenant.databaseMillis * 100) / 100;
  }
  return line;
}
