// Fastify's JSON body reader: what express.json does on the Express side, with the same limits and
// errors in body-parser's form (which the exception filter renders the same way on both).
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from '@jest/globals';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { JsonBodyTooComplexError } from './json-shape';
import { JSON_BODY_LIMIT_BYTES, readJsonBody } from './json-body';

const JSON_TYPE = 'application/json';

function body(bytes: Buffer, headers: Record<string, string> = {}, chunk = 1024) {
  const chunks = Array.from({ length: Math.ceil(bytes.length / chunk) }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk));
  const payload = Readable.from(chunks, { objectMode: false });
  return { payload, headers: { 'content-type': JSON_TYPE, ...headers } };
}

async function read(bytes: Buffer | string, headers: Record<string, string> = {}): Promise<unknown> {
  const { payload, headers: all } = body(Buffer.from(bytes), headers);
  const parsed = await readJsonBody(payload, all);
  assert.ok(payload.readableEnded, 'the body was read to its end');
  return parsed;
}

async function refused(bytes: Buffer | string, headers: Record<string, string>, status: number, type: string): Promise<void> {
  const { payload, headers: all } = body(Buffer.from(bytes), headers);
  await assert.rejects(readJsonBody(payload, all), (err: { status?: number; type?: string; statusCode?: unknown }) => {
    assert.equal(err.status, status);
    assert.equal(err.type, type);
    // Without statusCode, Nest's Fastify adapter passes it to the exception filter as it is.
    assert.equal(err.statusCode, undefined);
    return true;
  });
  // Read off to its end even when refused, so a keep-alive connection stays usable.
  assert.ok(payload.readableEnded || payload.destroyed, 'the rest of the body was read off');
}

describe('readJsonBody', () => {
  it('parses objects and arrays, in UTF-8 with or without a BOM, and an empty body as {}', async () => {
    assert.deepEqual(await read('{"email":"ada@example.com","name":"Ada"}'), { email: 'ada@example.com', name: 'Ada' });
    assert.deepEqual(await read(' \n[1,{"a":2}]'), [1, { a: 2 }]);
    assert.deepEqual(await read('\ufeff{"name":"Bom"}', { 'content-type': 'application/json; charset=UTF-8' }), { name: 'Bom' });
    assert.deepEqual(await read(''), {});
  });

  it('inflates gzip, deflate and br bodies', async () => {
    const json = Buffer.from(JSON.stringify({ name: 'Zip' }));
    assert.deepEqual(await read(gzipSync(json), { 'content-encoding': 'gzip' }), { name: 'Zip' });
    assert.deepEqual(await read(deflateSync(json), { 'content-encoding': 'Deflate' }), { name: 'Zip' });
    assert.deepEqual(await read(brotliCompressSync(json), { 'content-encoding': 'br' }), { name: 'Zip' });
  });

  it('refuses malformed JSON and JSON that is neither an object nor an array with 400', async () => {
    for (const text of ['{"email":', '{"a":1,}', 'NaN', '"a string"', '42', 'null', 'true']) {
      await refused(text, {}, 400, 'entity.parse.failed');
    }
  });

  it('refuses a body over the limit with 413, by its Content-Length or once inflated past it', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(JSON_BODY_LIMIT_BYTES) });
    await refused(big, { 'content-length': String(big.length) }, 413, 'entity.too.large');
    await refused(big, {}, 413, 'entity.too.large');
    // Small on the wire, too large inflated.
    await refused(gzipSync(big), { 'content-encoding': 'gzip' }, 413, 'entity.too.large');
  });

  it('refuses a body not in its encoding with 400, an unknown encoding or a charset other than UTF with 415', async () => {
    await refused('{"name":"Plain"}', { 'content-encoding': 'gzip' }, 400, 'entity.unreadable');
    await refused('{"name":"Plain"}', { 'content-encoding': 'rot13' }, 415, 'encoding.unsupported');
    await refused('{"name":"Plain"}', { 'content-type': 'application/json; charset=klingon' }, 415, 'charset.unsupported');
    await refused('{"name":"Plain"}', { 'content-type': 'application/json; charset=latin1' }, 415, 'charset.unsupported');
  });

  it('checks the nesting and size of the raw bytes before parsing', async () => {
    const { payload, headers } = body(Buffer.from('['.repeat(40) + ']'.repeat(40)));
    await assert.rejects(readJsonBody(payload, headers), JsonBodyTooComplexError);
  });
});
