import type { TenantRequest } from '../config/tenant-source';

/**
 * Where `TenantResolver.route` keeps a request's target as it arrived (in origin form), before the
 * router sees it, on a platform that routes before any middleware runs (Fastify).
 */
export const ARRIVED_TARGET = Symbol.for('nest-tenancy:arrived-target');

/** A request as the resolution steps see it: Node's, with Express's `originalUrl` where it has one. */
export type TargetRequest = TenantRequest & { originalUrl?: string; [ARRIVED_TARGET]?: string };

/** The request's target as the client sent it (origin form), the tenant's path prefix included. */
export function arrivedTarget(req: TargetRequest): string {
  return req[ARRIVED_TARGET] ?? req.originalUrl ?? req.url;
}

/**
 * Gives the resolution middlewares the target as it arrived in `req.url`, as Express gives it to
 * middleware mounted at `/`. On Fastify, `TenantResolver.route` may have stripped the path prefix
 * before routing, and a middleware for every path sees `/` there (the matched path is cut off, and
 * put back before the next middleware). Then, as on Express, the target goes to origin form.
 */
export function toArrivedTarget(req: TargetRequest): void {
  if (req[ARRIVED_TARGET] !== undefined) req.url = req[ARRIVED_TARGET];
  toOriginForm(req);
}

const ABSOLUTE_FORM = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/is;

/**
 * Rewrites an absolute-form request target (`GET http://acme.example.com/users?x=1 HTTP/1.1`, which
 * Node leaves in `req.url`) to origin form (`/users?x=1`) and makes its host the `Host` header: RFC
 * 9112 §3.2.2 says the target's host wins over the Host header. After this, the subdomain source
 * reads the target's host and the path source (and the router) the target's path. A request in
 * origin form is left alone. Returns whether the request was rewritten.
 */
export function toOriginForm(req: TargetRequest): boolean {
  const match = ABSOLUTE_FORM.exec(req.url);
  if (!match) return false;
  const [, , authority, rest] = match;
  // userinfo@ is not part of the host (and is deprecated in http(s) URIs anyway).
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  if (host) req.headers.host = host;
  else delete req.headers.host;
  req.url = rest.startsWith('/') ? rest : `/${rest}`;
  if (req.originalUrl !== undefined) req.originalUrl = req.url;
  return true;
}
