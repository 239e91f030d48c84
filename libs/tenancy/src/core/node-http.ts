import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Node's own request or response behind what Nest hands over. Middleware gets Node's objects on
 * every platform; guards, interceptors and exception filters get the platform's: Express's extend
 * Node's, Fastify's wrap them (Node's object is their `raw`). The library reads and writes Node's
 * objects only, so it works the same on both without depending on either.
 */
export function nodeRequest<T extends object = IncomingMessage>(req: T | { raw: T }): T {
  return unwrap(req) as T;
}

/** Node's response behind `res`: see `nodeRequest`. */
export function nodeResponse(res: unknown): ServerResponse {
  return unwrap(res) as ServerResponse;
}

function unwrap(message: unknown): unknown {
  const raw = (message as { raw?: unknown } | undefined)?.raw;
  return raw !== null && typeof raw === 'object' ? raw : message;
}
