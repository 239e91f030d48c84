import { pgErrorCode } from './pg-error-code';

/** Node's socket errors of a server that is down, restarting, unreachable or cut off. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/**
 * What pg and pg-pool say, in words only, when the server does not answer: an acquire or connect
 * timeout (`connectionTimeoutMillis`), a query with no answer (`query_timeout`), a connection that
 * ended under a query, a pool or DataSource already closed.
 */
const DRIVER_MESSAGES = [
  /^timeout exceeded when trying to connect$/i,
  /^Connection terminated/i,
  /^Query read timeout$/i,
  /^Client has encountered a connection error and is not queryable$/i,
  /^Client was closed and is not queryable$/i,
  /^Cannot use a pool after calling end on the pool$/i,
  // TypeORM: the DataSource was destroyed (the service is stopping).
  /^Driver not Connected$/i,
];

/**
 * SQLSTATEs of a server that cannot serve now (see PostgreSQL's "Appendix A. Error Codes"): class 08
 * (connection exception), 57P01-57P03 (admin or crash shutdown, cannot connect now: a restart),
 * 53300 (too many connections), 3D000 (the database is gone: a tenant moved or deleted under a
 * stale instance).
 */
function unavailableCode(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === '3D000';
}

/**
 * True when `err` says the database cannot be reached or cannot serve right now, as opposed to a
 * fault of the request or of the code: the caller should get 503 with Retry-After, not 500.
 * Looks through TypeORM's wrappers (`driverError`) and an error's `cause`.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 3) return false;
  const e = err as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
  const code = pgErrorCode(err);
  if (code && unavailableCode(code)) return true;
  if (typeof e.code === 'string' && SOCKET_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && DRIVER_MESSAGES.some((re) => re.test(e.message as string))) return true;
  return isDatabaseUnavailable(e.driverError, depth + 1) || isDatabaseUnavailable(e.cause, depth + 1);
}
