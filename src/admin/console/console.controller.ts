import { Controller, Get, Headers, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import { ConsoleAsset, ConsoleAssets } from './console-assets';

/**
 * What every answer of the console carries. The page runs only its own scripts and styles (no
 * inline script, so an injected `<script>` or `on...=` attribute would not run), talks only to
 * this origin, and is never framed (clickjacking: `frame-ancestors 'none'`, and X-Frame-Options for
 * older browsers). Sources: CSP Level 3 (W3C), RFC 7034, the OWASP Secure Headers Project.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * The operations console: `GET /admin/console` serves the page and `GET /admin/console/<file>` its
 * scripts and style sheet. They hold no data, so they are served without a token; the page asks
 * for the super-admin token and sends it as a bearer token to the admin API, which checks it as
 * for any other client. The page is `no-store`; the other files are revalidated by their ETag.
 */
@ApiExcludeController()
@Controller('admin/console')
export class ConsoleController {
  private readonly assets = new ConsoleAssets();

  @Get()
  page(@Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: ServerResponse | { raw: ServerResponse }): void {
    send(reply, this.assets.page, 'no-store', ifNoneMatch);
  }

  @Get(':file')
  file(
    @Param('file') file: string,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res() reply: ServerResponse | { raw: ServerResponse },
  ): void {
    const asset = file === 'index.html' ? undefined : this.assets.get(file);
    if (!asset) throw new NotFoundException(`The console has no file '${file.slice(0, 80)}'.`);
    send(reply, asset, 'no-cache', ifNoneMatch);
  }
}

/** Answers with the asset, or 304 when the client already holds these bytes (RFC 9110 section 13.1.2). */
function send(reply: ServerResponse | { raw: ServerResponse }, asset: ConsoleAsset, cacheControl: string, ifNoneMatch?: string): void {
  // Node's response on either platform (Express's extends it, Fastify's reply wraps it).
  const res = 'raw' in reply ? reply.raw : reply;
  for (const [name, value] of Object.entries(CONSOLE_SECURITY_HEADERS)) res.setHeader(name, value);
  res.setHeader('cache-control', cacheControl);
  res.setHeader('etag', asset.etag);
  const held = ifNoneMatch?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === asset.etag);
  if (held && cacheControl !== 'no-store') {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('content-type', asset.type);
  res.setHeader('content-length', asset.body.length);
  res.end(asset.body);
}
