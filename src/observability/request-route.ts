import type { IncomingMessage } from 'node:http';

const ROUTE = Symbol.for('nest-tenancy-reference:route');

type Routed = IncomingMessage & { [ROUTE]?: string; route?: { path?: unknown } };

/** Remembers the route template (`/users/:id`) that matched Node's request `req`. */
export function markRoute(req: IncomingMessage, route: string | undefined): void {
  if (route) (req as Routed)[ROUTE] = route;
}

/**
 * The route template that served `req` (Node's request): marked on Fastify by the router's
 * onRequest hook, read from Express's `req.route` on Express; `unmatched` when no route matched
 * (a 404 of the router), and on Express also for a request refused by a middleware before routing.
 * A template, never the URL, so a metric labelled with it stays within the routes the app has.
 */
export function routeOf(req: IncomingMessage): string {
  const marked = (req as Routed)[ROUTE];
  if (marked) return marked;
  const path = (req as Routed).route?.path;
  return typeof path === 'string' ? path : 'unmatched';
}
