// Absolute-form request targets (RFC 9112 §3.2.2): the target's host wins over the Host header.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { toOriginForm } from './request-target';
import type { TenantRequest } from '../config/tenant-source';

function req(url: string, host?: string): TenantRequest & { originalUrl?: string } {
  return { url, originalUrl: url, headers: host === undefined ? {} : { host } };
}

describe('toOriginForm', () => {
  it('takes the host from an absolute-form target and keeps its path and query', () => {
    const r = req('http://acme.localhost:3000/t/widget/users?limit=1', 'gadget.localhost');
    assert.equal(toOriginForm(r), true);
    assert.equal(r.headers.host, 'acme.localhost:3000');
    assert.equal(r.url, '/t/widget/users?limit=1');
    assert.equal(r.originalUrl, '/t/widget/users?limit=1');
  });

  it('drops userinfo, accepts any scheme case, and gives an empty path as /', () => {
    const r = req('HTTPS://user:pw@acme.localhost?x=1', 'gadget.localhost');
    toOriginForm(r);
    assert.equal(r.headers.host, 'acme.localhost');
    assert.equal(r.url, '/?x=1');
  });

  it('leaves an origin-form target alone, including one whose path holds a URL', () => {
    for (const url of ['/users', '/t/acme/users?next=http://x.localhost/', '*']) {
      const r = req(url, 'gadget.localhost');
      assert.equal(toOriginForm(r), false);
      assert.equal(r.url, url);
      assert.equal(r.headers.host, 'gadget.localhost');
    }
  });
});
