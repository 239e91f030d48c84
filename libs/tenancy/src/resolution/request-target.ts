import type { TenantRequest } from '../config/tenant-source';

const ABSOLUTE_FORM = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/is;

/**
 * Rewrites an absolute-form request target (`GET http://acme.example.com/users?x=1 HTTP/1.1`, which
 * Node leaves in `req.url`) to origin form (`/users?x=1`) and makes its host the `Host` header: RFC
 * 9112 §3.2.2 says the target's host wins over the Host header. After this, the subdomain source
 * reads the target's host and the path source (and the router) the target's path. A request in
 * origin form is left alone. Returns whether the request was rewritten.
 */
export function toOriginForm(req: TenantRequest & { originalUrl?: string }): boolean {
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
