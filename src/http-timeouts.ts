import type { Server } from 'node:http';

/** The HTTP server's time limits, in milliseconds. */
export interface HttpTimeouts {
  /** The request line and headers must arrive within this. Default 10,000 (HTTP_HEADERS_TIMEOUT_MILLIS). */
  headersMillis: number;
  /** The whole request, body included, must arrive within this; else 408. Default 30,000 (HTTP_REQUEST_TIMEOUT_MILLIS). */
  requestMillis: number;
  /** An idle keep-alive connection is closed after this. Default 5,000 (HTTP_KEEP_ALIVE_TIMEOUT_MILLIS). */
  keepAliveMillis: number;
}

/** Reads the HTTP time limits from the environment (validated at start by app.config). */
export function httpTimeoutsFromEnv(env: NodeJS.ProcessEnv = process.env): HttpTimeouts {
  const read = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
  return {
    headersMillis: read('HTTP_HEADERS_TIMEOUT_MILLIS', 10_000),
    requestMillis: read('HTTP_REQUEST_TIMEOUT_MILLIS', 30_000),
    keepAliveMillis: read('HTTP_KEEP_ALIVE_TIMEOUT_MILLIS', 5_000),
  };
}

/**
 * Applies the limits so that a slow or stalled client (headers or a body that never finishes) is
 * answered 408 and disconnected instead of holding a socket forever. Node checks the limits every
 * `connectionsCheckingInterval` (30 s by default, far coarser than the limits): it is lowered so a
 * timeout fires within about a second of its due time. Must run before `listen`.
 */
export function applyHttpTimeouts(server: Server, t: HttpTimeouts): void {
  // Node requires headersTimeout <= requestTimeout.
  server.requestTimeout = t.requestMillis;
  server.headersTimeout = Math.min(t.headersMillis, t.requestMillis);
  server.keepAliveTimeout = t.keepAliveMillis;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    50,
    Math.min(1_000, Math.floor(server.headersTimeout / 4)),
  );
}
