// The HTTP server's time limits: defaults, environment overrides, and what is set on the server.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from '@jest/globals';
import { applyHttpTimeouts, httpTimeoutsFromEnv } from './http-timeouts';

describe('HTTP timeouts', () => {
  it('defaults to 10 s for headers, 30 s for the whole request and 5 s keep-alive', () => {
    assert.deepEqual(httpTimeoutsFromEnv({}), { headersMillis: 10_000, requestMillis: 30_000, keepAliveMillis: 5_000 });
  });

  it('reads the environment', () => {
    const env = { HTTP_HEADERS_TIMEOUT_MILLIS: '2000', HTTP_REQUEST_TIMEOUT_MILLIS: '9000', HTTP_KEEP_ALIVE_TIMEOUT_MILLIS: '700' };
    assert.deepEqual(httpTimeoutsFromEnv(env), { headersMillis: 2_000, requestMillis: 9_000, keepAliveMillis: 700 });
  });

  it('sets them on the server, with the headers limit never above the request limit and a check every second at most', () => {
    const server = createServer() as ReturnType<typeof createServer> & { connectionsCheckingInterval: number };
    applyHttpTimeouts(server, httpTimeoutsFromEnv({}));
    assert.deepEqual(
      [server.headersTimeout, server.requestTimeout, server.keepAliveTimeout, server.connectionsCheckingInterval],
      [10_000, 30_000, 5_000, 1_000],
    );
    applyHttpTimeouts(server, { headersMillis: 5_000, requestMillis: 400, keepAliveMillis: 100 });
    assert.deepEqual([server.headersTimeout, server.requestTimeout, server.connectionsCheckingInterval], [400, 400, 100]);
  });
});
