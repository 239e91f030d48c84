import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';

const STOPPING_BODY = JSON.stringify({
  statusCode: 503,
  error: 'Service Unavailable',
  message: 'The service is restarting or stopping. Retry in a moment.',
});

/**
 * Lets a stopping service finish what it has started and take nothing new. From the moment shutdown
 * begins (before the HTTP server closes), a request that arrives on an open keep-alive connection
 * gets 503 with `Retry-After: 1` and `Connection: close`, so its client reconnects, to another
 * instance behind a balancer; requests already past this point are served to the end. Without it,
 * a client that keeps its connection busy keeps the HTTP server from ever closing.
 */
@Injectable()
export class ShutdownDrain implements BeforeApplicationShutdown {
  private stopping = false;

  beforeApplicationShutdown(): void {
    this.stopping = true;
  }

  /** Express-style middleware; register it before every route. */
  readonly middleware = (_req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (!this.stopping) return next();
    res.writeHead(503, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(STOPPING_BODY),
      'retry-after': '1',
      connection: 'close',
    });
    res.end(STOPPING_BODY);
  };
}
