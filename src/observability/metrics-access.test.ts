import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { metricsAccess } from './metrics-access';

const TOKEN = 'a-token-of-sixteen-characters';

describe('metricsAccess', () => {
  it('without a token or a port, /metrics does not exist', () => {
    assert.equal(metricsAccess({ topTenants: 10 }, false, `Bearer ${TOKEN}`), 'not-found');
  });

  it('with a token only: on the service port, with the bearer token only', () => {
    const config = { topTenants: 10, metricsToken: TOKEN };
    assert.equal(metricsAccess(config, false, `Bearer ${TOKEN}`), 'allowed');
    assert.equal(metricsAccess(config, false, `bearer ${TOKEN}`), 'allowed');
    assert.equal(metricsAccess(config, false, undefined), 'unauthorized');
    assert.equal(metricsAccess(config, false, TOKEN), 'unauthorized');
    assert.equal(metricsAccess(config, false, `Bearer ${TOKEN}x`), 'unauthorized');
  });

  it('with a port: only there, open unless a token is set too', () => {
    assert.equal(metricsAccess({ topTenants: 10, metricsPort: 9464 }, false, undefined), 'not-found');
    assert.equal(metricsAccess({ topTenants: 10, metricsPort: 9464 }, true, undefined), 'allowed');
    assert.equal(metricsAccess({ topTenants: 10, metricsPort: 9464, metricsToken: TOKEN }, true, undefined), 'unauthorized');
    assert.equal(metricsAccess({ topTenants: 10, metricsPort: 9464, metricsToken: TOKEN }, true, `Bearer ${TOKEN}`), 'allowed');
  });
});
