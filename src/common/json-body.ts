import type { IncomingHttpHeaders } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { assertJsonShape, DEFAULT_JSON_SHAPE_LIMITS } from './json-shape';

/** The largest JSON body the service reads, after decompression: 64 kB, on either platform. */
export const JSON_BODY_LIMIT_BYTES = 64 * 1024;

const INFLATERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * A body that cannot be taken, in the form of Express's body parser (`type`, `status`), which
 * TenancyExceptionFilter answers the same way on both platforms. No `statusCode`: Nest's Fastify
 * adapter would turn the error into an HttpException carrying its raw message.
 */
class BodyError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads and parses a JSON request body as the Express side's `express.json` does, for Fastify's
 * content-type parser: gzip, deflate and br bodies inflated (an undecodable one is 400, another
 * encoding 415), a UTF charset only (else 415), at most `limit` bytes once inflated (else 413,
 * known from Content-Length before reading when it can be), the raw bytes checked by
 * `assertJsonShape` before parsing, an object or an array only (else 400, as for malformed JSON),
 * an empty body `{}`. On a refusal the rest of the body is read off first, as Express's parser
 * does, so a keep-alive connection stays usable.
 */
export async function readJsonBody(payload: Readable, headers: IncomingHttpHeaders, limit = JSON_BODY_LIMIT_BYTES): Promise<unknown> {
  try {
    const charset = charsetOf(headers['content-type']);
    return parseJson(await readBody(payload, headers, limit), charset);
  } catch (err) {
    await drain(payload);
    throw err;
  }
}

function charsetOf(contentType: string | undefined): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase() || 'utf-8';
  if (!charset.startsWith('utf-')) throw unsupportedCharset(charset);
  return charset;
}

function readBody(payload: Readable, headers: IncomingHttpHeaders, limit: number): Promise<Buffer> {
  const encoding = (headers['content-encoding'] ?? 'identity').toLowerCase();
  const inflate = INFLATERS[encoding];
  if (!inflate && encoding !== 'identity') {
    throw new BodyError(415, 'encoding.unsupported', `unsupported content encoding "${encoding}"`);
  }
  if (!inflate && Number(headers['content-length']) > limit) throw tooLarge();
  const inflater = inflate?.();
  const source: Readable = inflater ? payload.pipe(inflater) : payload;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (err?: BodyError) => {
      source.off('data', onData).off('end', onEnd).off('error', onBroken);
      payload.off('error', onBroken).off('close', onClosed);
      if (inflater) {
        payload.unpipe(inflater);
        inflater.destroy();
      }
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, length));
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) finish(tooLarge());
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    // An inflater's error (the body is not in the encoding it claims), or the client went away.
    const onBroken = () => finish(new BodyError(400, 'entity.unreadable', 'the request body cannot be read'));
    const onClosed = () => {
      if (!payload.readableEnded) onBroken();
    };
    source.on('data', onData).on('end', onEnd).on('error', onBroken);
    if (inflater) payload.on('error', onBroken).on('close', onClosed);
  });
}

function parseJson(body: Buffer, charset: string): unknown {
  if (body.length === 0) return {};
  assertJsonShape(body, DEFAULT_JSON_SHAPE_LIMITS);
  let text: string;
  try {
    text = new TextDecoder(charset).decode(body);
  } catch {
    throw unsupportedCharset(charset);
  }
  // Strict, as express.json: a body is an object or an array.
  const first = /^[ \t\n\r]*(.)/s.exec(text)?.[1];
  try {
    if (first !== '{' && first !== '[') throw new SyntaxError('not an object or an array');
    return JSON.parse(text);
  } catch {
    throw new BodyError(400, 'entity.parse.failed', 'the request body is not valid JSON');
  }
}

function unsupportedCharset(charset: string): BodyError {
  return new BodyError(415, 'charset.unsupported', `unsupported charset "${charset.toUpperCase()}"`);
}

function tooLarge(): BodyError {
  return new BodyError(413, 'entity.too.large', 'request entity too large');
}

/** Reads off what is left of the body (bounded by the server's request timeout). */
function drain(payload: Readable): Promise<void> {
  if (payload.readableEnded || payload.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    payload.once('end', resolve).once('close', resolve).once('error', resolve);
    payload.resume();
  });
}
