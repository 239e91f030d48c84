import type { Server } from 'node:http';
import { AddressInfo, connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: any;
}

/** Makes the app's HTTP server listen on a free local port (supertest reuses a listening server). */
export async function listen(server: Server): Promise<number> {
  if (!server.listening) await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return (server.address() as AddressInfo).port;
}

/**
 * Sends one HTTP/1.1 request byte for byte, for what a well-behaved client refuses to send (a NUL or
 * raw UTF-8 in a header, an unencoded byte or a dot segment in the path). `head` is the request line
 * and headers without the final blank line; `Connection: close` is added.
 */
export function rawRequest(
  port: number,
  head: string | Buffer,
  body: Buffer = Buffer.alloc(0),
  options: { halfClose?: boolean } = {},
): Promise<RawResponse> {
  const bytes = Buffer.concat([
    typeof head === 'string' ? Buffer.from(head, 'latin1') : head,
    Buffer.from(`\r\nConnection: close${body.length ? `\r\nContent-Length: ${body.length}` : ''}\r\n\r\n`, 'latin1'),
    body,
  ]);
  return new Promise((resolve, reject) => {
    // A half-close (the default) makes Node's server drop a request still being answered
    // asynchronously (one that reaches the database); `halfClose: false` keeps the socket open and
    // relies on Connection: close.
    const socket = connect(port, '127.0.0.1', () => (options.halfClose === false ? socket.write(bytes) : socket.end(bytes)));
    const chunks: Buffer[] = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      try {
        resolve(parse(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
  });
}

function parse(data: Buffer): RawResponse {
  const split = data.indexOf('\r\n\r\n');
  if (split === -1) throw new Error(`no HTTP response: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`);
  const [statusLine, ...lines] = data.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!status) throw new Error(`bad status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let rest = data.subarray(split + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
      if (!size) break;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    rest = Buffer.concat(parts);
  }
  const text = rest.toString('utf8');
  let body: any;
  if (/application\/json/.test(headers['content-type'] ?? '')) body = JSON.parse(text);
  return { status, headers, text, body };
}
