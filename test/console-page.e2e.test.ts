// The operations console as the service serves it (the browser test, `npm run test:console`, drives
// it in Chromium): the page and its files without a token, with headers that forbid inline script
// and framing; the page never cached, the files revalidated by ETag; nothing else under
// /admin/console; no way in the page's code to turn text into markup. And the migration status of
// a tenant the console shows (GET /admin/tenants/:id/migrations) in all three models.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { SignJWT } from 'jose';
import request from 'supertest';
import { startTestApp, TestApp } from './support/test-app';

const SECRET = 'console-page-suite-secret-0123456789abcdef';
const ASSETS = join(__dirname, '../src/admin/console/assets');

const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET));

describe('the operations console page', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await startTestApp({
      tenants: [
        { id: 'pool-one', name: 'Pool One', tier: 'free' },
        { id: 'bridge-one', name: 'Bridge One', tier: 'pro' },
        { id: 'silo-one', name: 'Silo One', tier: 'enterprise' },
      ],
      env: { JWT_SECRET: SECRET },
    });
    admin = await sign({ sub: 'operator', role: 'super_admin' });
  });
  afterAll(async () => t?.close());

  it('serves the page without a token, with its security headers, never cached', async () => {
    const res = await request(t.http).get('/admin/console');
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers['content-type']), /^text\/html; charset=utf-8/);
    const csp = String(res.headers['content-security-policy']);
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"])
      assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['cache-control'], 'no-store');
    // The page holds no data: the same bytes with or without a token, and a 200 even for a bad one.
    const withBadToken = await request(t.http).get('/admin/console').set('Authorization', 'Bearer nope');
    assert.equal(withBadToken.status, 200);
    assert.equal(withBadToken.text, res.text);
  });

  it('has no inline script or event handler attribute, and loads only its own files', async () => {
    const html = (await request(t.http).get('/admin/console')).text;
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    assert.ok(scripts.length > 0);
    for (const [, attrs, body] of scripts) {
      assert.match(attrs, /\bsrc="\/admin\/console\/[a-z-]+\.js"/);
      assert.equal(body.trim(), '', 'an inline script');
    }
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'an inline event handler');
    assert.doesNotMatch(html, /\sstyle\s*=/i, 'an inline style');
    for (const [, path] of html.matchAll(/(?:src|href)="(\/admin\/console\/[^"]+)"/g)) {
      const res = await request(t.http).get(path);
      assert.equal(res.status, 200, `${path}: ${res.status}`);
    }
  });

  it('serves each file with its type and ETag, and answers 304 when the client holds it', async () => {
    const js = await request(t.http).get('/admin/console/main.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.equal(js.headers['cache-control'], 'no-cache');
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    assert.equal(js.text, readFileSync(join(ASSETS, 'main.js'), 'utf8'));
    const etag = String(js.headers.etag);
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    const again = await request(t.http).get('/admin/console/main.js').set('If-None-Match', etag);
    assert.equal(again.status, 304);
    assert.equal(again.text ?? '', '');
    const other = await request(t.http).get('/admin/console/main.js').set('If-None-Match', '"0000000000000000"');
    assert.equal(other.status, 200);
    const css = await request(t.http).get('/admin/console/console.css');
    assert.match(String(css.headers['content-type']), /^text\/css/);
  });

  it('answers 404 for any other path under /admin/console, and never reads outside its files', async () => {
    for (const path of [
      '/admin/console/nope.js',
      '/admin/console/..%2F..%2F..%2Fpackage.json',
      '/admin/console/%2e%2e%2fadmin.module.ts',
      '/admin/console/console-assets.ts',
      '/admin/console/index.html',
    ]) {
      const res = await request(t.http).get(path);
      assert.equal(res.status, 404, `${path}: ${res.status} ${res.text}`);
      assert.deepEqual(Object.keys(res.body).sort(), ['error', 'message', 'statusCode']);
      assert.doesNotMatch(res.text, /"name"\s*:\s*"nest-tenancy/);
    }
  });

  it('builds the page from text only: no code of the console turns a string into markup', () => {
    const files = readdirSync(ASSETS).filter((f) => f.endsWith('.js'));
    assert.ok(files.length >= 5);
    for (const file of files) {
      const code = readFileSync(join(ASSETS, file), 'utf8');
      assert.doesNotMatch(
        code,
        /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|createContextualFragment/,
        file,
      );
      // The token goes in a header only: no URL of the console's code carries it.
      assert.doesNotMatch(code, /[?&](token|access_token)=/, file);
    }
  });

  describe('GET /admin/tenants/:id/migrations', () => {
    it('refuses a request without the super_admin role', async () => {
      assert.equal((await request(t.http).get('/admin/tenants/pool-one/migrations')).status, 401);
      const user = await sign({ sub: 'u', tenant_id: 'pool-one', role: 'admin' });
      assert.equal((await request(t.http).get('/admin/tenants/pool-one/migrations').set('Authorization', `Bearer ${user}`)).status, 403);
    });

    it('answers 404 for an unknown tenant and 400 for a malformed id', async () => {
      const unknown = await request(t.http).get('/admin/tenants/no-such-tenant/migrations').set('Authorization', `Bearer ${admin}`);
      assert.equal(unknown.status, 404, unknown.text);
      const malformed = await request(t.http).get('/admin/tenants/Not_An_Id/migrations').set('Authorization', `Bearer ${admin}`);
      assert.equal(malformed.status, 400, malformed.text);
    });

    for (const [id, model, targets] of [
      ['pool-one', 'shared', ['@shared']],
      ['bridge-one', 'schema', ['bridge-one']],
      ['silo-one', 'database', ['silo-one']],
    ] as const) {
      it(`gives the ledger rows of the places that hold a ${model} tenant's rows, each current`, async () => {
        const res = await request(t.http).get(`/admin/tenants/${id}/migrations`).set('Authorization', `Bearer ${admin}`);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.tenantId, id);
        assert.equal(typeof res.body.latest, 'string');
        assert.deepEqual(
          res.body.targets.map((r: { target: string }) => r.target),
          targets,
        );
        for (const r of res.body.targets) {
          assert.equal(r.model, model);
          assert.equal(r.status, 'current');
          assert.equal(r.version, res.body.latest);
          assert.equal(r.error, null);
        }
      });
    }
  });
});
