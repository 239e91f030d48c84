/**
 * What the service's logs never show: credentials in headers, tokens and cookies in objects, and
 * passwords in connection URLs or secrets in query strings inside messages.
 */

/**
 * pino `redact` paths: the secret-bearing fields of what the service and its libraries log (an
 * object's own, its `headers`, a request's or a response's headers, an HTTP client error's
 * request config). Named paths, no `*` wildcards: a wildcard makes pino copy and scan every
 * object of every line, which cost each request line about 3 µs of CPU; named paths cost only
 * the lines that hold them.
 */
export const REDACTED_PATHS = [
  'authorization',
  'cookie',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'config.headers.authorization',
  'err.config.headers.authorization',
  'user.password',
  'data.password',
  'body.password',
];

/** The placeholder a redacted value becomes. */
export const REDACTED = '[Redacted]';

// `scheme://user:password@` in any URL (postgres://, redis://, https://...).
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/\s]*@/gi;
// `token=...`, `access_token=...`, `password=...`, `secret=...`, `api_key=...`, `sig=...` in a query string,
// and the search term `q=...`: a search by email names an encrypted column's plaintext.
const QUERY_SECRET = /([?&;](?:[a-z_-]*token|password|passwd|secret|api[_-]?key|key|sig|signature|code|q)=)[^&#\s]*/gi;

/** `text` with URL passwords and query-string secrets replaced by `[Redacted]`. Cheap when there are none. */
export function redactSecretsIn(text: string): string {
  if (text.includes('@')) text = text.replace(URL_PASSWORD, `$1${REDACTED}@`);
  if (text.includes('=')) text = text.replace(QUERY_SECRET, `$1${REDACTED}`);
  return text;
}
