/**
 * What the service's logs never show: credentials in headers, tokens and cookies in objects, and
 * passwords in connection URLs or secrets in query strings inside messages.
 */

/** pino `redact` paths: any logged object's secret-bearing fields, one or two levels deep. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'authorization',
  'cookie',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
];

/** The placeholder a redacted value becomes. */
export const REDACTED = '[Redacted]';

// `scheme://user:password@` in any URL (postgres://, redis://, https://...).
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/\s]*@/gi;
// `token=...`, `access_token=...`, `password=...`, `secret=...`, `api_key=...`, `sig=...` in a query string.
const QUERY_SECRET = /([?&;](?:[a-z_-]*token|password|passwd|secret|api[_-]?key|key|sig|signature|code)=)[^&#\s]*/gi;

/** `text` with URL passwords and query-string secrets replaced by `[Redacted]`. Cheap when there are none. */
export function redactSecretsIn(text: string): string {
  if (text.includes('@')) text = text.replace(URL_PASSWORD, `$1${REDACTED}@`);
  if (text.includes('=')) text = text.replace(QUERY_SECRET, `$1${REDACTED}`);
  return text;
}
