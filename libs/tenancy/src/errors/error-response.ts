import type { ServerResponse } from 'node:http';

/** The JSON body of every error answer. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

/**
 * Writes `body` as the JSON error answer. A 503 or 429 carries `Retry-After: retryAfterSeconds`
 * (default 1); `extra` headers (lower-case names, such as a 429's RateLimit fields) are added.
 */
export function writeErrorResponse(res: ServerResponse, body: ErrorBody, retryAfterSeconds = 1, extra?: Record<string, string>): void {
  const headers: Record<string, string> = { ...extra, 'content-type': 'application/json; charset=utf-8' };
  if (body.statusCode === 503 || body.statusCode === 429) headers['retry-after'] = String(retryAfterSeconds);
  res.writeHead(body.statusCode, headers);
  res.end(JSON.stringify(body));
}
