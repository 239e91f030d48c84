import type { ServerResponse } from 'node:http';

/** The JSON body of every error answer. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

/**
 * Writes `body` as the JSON error answer. A 503 or 429 carries `Retry-After: retryAfterSeconds`
 * (default 1).
 */
export function writeErrorResponse(res: ServerResponse, body: ErrorBody, retryAfterSeconds = 1): void {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (body.statusCode === 503 || body.statusCode === 429) headers['retry-after'] = String(retryAfterSeconds);
  res.writeHead(body.statusCode, headers);
  res.end(JSON.stringify(body));
}
