// The admin API as the console calls it: every request carries the super-admin token as a bearer
// token (never in a URL), and every answer that is not a success becomes an ApiError with the
// API's own message.

const TOKEN_KEY = 'nest-tenancy.console.token';

/** An answer of the admin API that is not a success: `status` is its HTTP status (0: no answer). */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }

  /** The token was refused (401) or lacks the super_admin role (403). */
  get refused() {
    return this.status === 401 || this.status === 403;
  }
}

/** The token of this tab (sessionStorage: gone when the tab closes), or null. */
export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * Sends one request to the admin API and returns its parsed JSON (undefined for 204). `body`, when
 * given, is sent as JSON. Throws ApiError: 0 when the service did not answer, else the answer's
 * status with its `message` (the API's error body is `{statusCode, error, message}`).
 */
export async function call(method, path, body) {
  const response = await send(method, path, body);
  if (response.status === 204) return undefined;
  return response.json();
}

/** Like `call`, but answers null when the service has no such route (404 of an optional endpoint). */
export async function callOptional(path) {
  try {
    return await call('GET', path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** Downloads the answer of a GET as a file named `filename` (the export: NDJSON). */
export async function download(path, filename) {
  const response = await send('GET', path);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function send(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = storedToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, 'The service did not answer: is it running, and is the network up?');
  }
  if (response.ok) return response;
  throw new ApiError(response.status, await errorText(response));
}

async function errorText(response) {
  let message;
  try {
    const parsed = await response.json();
    message = Array.isArray(parsed.message) ? parsed.message.join('; ') : parsed.message;
  } catch {
    // Not JSON: the status line says enough.
  }
  const base = `${response.status} ${response.statusText || 'error'}`.trim();
  return message ? `${base}: ${message}` : base;
}
