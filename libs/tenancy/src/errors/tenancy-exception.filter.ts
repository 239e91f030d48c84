import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { nodeResponse } from '../core/node-http';
import { isDatabaseUnavailable } from './database-unavailable';
import { ErrorBody, writeErrorResponse } from './error-response';
import { pgErrorCode, READ_ONLY_TRANSACTION } from './pg-error-code';
import { TenantMovingError, TenantRateLimitedError } from './tenancy.errors';
import { errorMessage } from '../core/error-message';

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** SQLSTATEs that are the caller's doing, with what to tell them. The driver's text never leaves. */
const DATABASE_ERRORS: Record<string, [number, string]> = {
  '23505': [409, 'This conflicts with an existing record.'],
  '23503': [409, 'This refers to a record that does not exist, or is still referred to by another record.'],
  '23001': [409, 'This record is still referred to by another record.'],
  '23502': [400, 'A required value is missing.'],
  '23514': [400, 'A value is out of range.'],
  '22001': [400, 'A value is too long.'],
  '22003': [400, 'A number is out of range.'],
  '22007': [400, 'A date is malformed.'],
  '22P02': [400, 'A value is malformed.'],
  // A NUL byte (or a character the database encoding lacks) in a string value.
  '22021': [400, 'A value holds a character that cannot be stored (such as a NUL byte).'],
  '22P05': [400, 'A value holds a character that cannot be stored (such as a NUL byte).'],
  '40001': [503, 'The request collided with another one; retry it.'],
  '40P01': [503, 'The request collided with another one; retry it.'],
  '53300': [503, 'The database is busy; retry in a moment.'],
  '57014': [503, 'The request took too long; retry it.'],
  // lock_timeout, and idle_in_transaction_session_timeout (the transaction paused too long).
  '55P03': [503, 'The request waited too long for a lock; retry it.'],
  '25P03': [503, 'The request took too long; retry it.'],
  // The connection was ended under the request (for example by a tenant move's switch): safe to retry.
  '57P01': [503, 'The request was interrupted; retry it.'],
};

const DATA_EXCEPTION: [number, string] = [400, 'A value is not valid.'];

/**
 * Turns every error into `{statusCode, error, message}`: HTTP exceptions as they are, request-body
 * parser errors and known PostgreSQL errors into 4xx, anything else into a bare 500 (logged here,
 * never shown). A 503 or 429 carries Retry-After.
 */
@Catch()
export class TenancyExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(raised: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw raised;
    // A write in a read-only transaction: the tenant is fenced where this instance sent it (a move's
    // freeze, or a switch it has not heard of yet). Only the preamble makes a transaction read-only.
    const exception = pgErrorCode(raised) === READ_ONLY_TRANSACTION ? new TenantMovingError() : raised;
    // Node's response on every platform (Fastify hands filters its reply, whose `raw` it is).
    const res = nodeResponse(host.switchToHttp().getResponse());
    const body = this.toBody(exception);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const extra = exception instanceof TenantRateLimitedError ? exception.headers() : undefined;
    writeErrorResponse(res, body, (exception as { retryAfterSeconds?: number })?.retryAfterSeconds, extra);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      // A 503 is a state to retry (a move, a full pool), not a fault to log.
      if (status >= 500 && status !== 503) this.logger.error(exception.stack);
      if (typeof response === 'object' && response) {
        const r = response as Partial<ErrorBody>;
        return { statusCode: status, error: r.error ?? REASONS[status] ?? 'Error', message: r.message ?? exception.message };
      }
      return { statusCode: status, error: REASONS[status] ?? 'Error', message: String(response) };
    }
    const parser = exception as { type?: string; status?: number; statusCode?: number; expose?: boolean };
    const parserStatus = parser?.status ?? parser?.statusCode;
    // body-parser's errors: typed ones, and untyped http-errors client errors such as a
    // Content-Encoding: gzip body that does not inflate (a zlib error given status 400).
    const clientHttpError = parser?.expose === true && typeof parserStatus === 'number' && parserStatus >= 400 && parserStatus < 500;
    if (
      (typeof parser?.type === 'string' && parser.type.startsWith('entity.')) ||
      parser?.type === 'charset.unsupported' ||
      parser?.type === 'encoding.unsupported' ||
      clientHttpError
    ) {
      const status = parserStatus ?? 400;
      const message =
        parser.type === 'entity.parse.failed'
          ? 'The request body is not valid JSON.'
          : parser.type === 'entity.too.large'
            ? 'The request body is too large.'
            : 'The request body cannot be read.';
      return { statusCode: status, error: REASONS[status] ?? 'Bad Request', message };
    }
    const code = pgErrorCode(exception);
    // Unlisted data exceptions (class 22, e.g. a NUL byte in text) are the caller's input too.
    const known = code ? (DATABASE_ERRORS[code] ?? (code.startsWith('22') ? DATA_EXCEPTION : undefined)) : undefined;
    if (known) return { statusCode: known[0], error: REASONS[known[0]], message: known[1] };
    if (isDatabaseUnavailable(exception)) {
      this.logger.warn(`the database is unavailable: ${errorMessage(exception)}`);
      return {
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: REASONS[503],
        message: 'The database cannot be reached right now; retry in a moment.',
      };
    }
    this.logger.error((exception as Error)?.stack ?? String(exception));
    return { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, error: 'Internal Server Error', message: 'Internal server error' };
  }
}
