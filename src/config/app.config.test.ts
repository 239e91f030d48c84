// HTTP_PLATFORM: which platform the service runs on, validated with the rest of the environment.
import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { environmentProblems, httpPlatformFromEnv } from './app.config';

describe('HTTP_PLATFORM', () => {
  const valid = { DATABASE_URL: 'postgres://owner@localhost/control' };

  it('is fastify by default and express when asked', () => {
    assert.equal(httpPlatformFromEnv({}), 'fastify');
    assert.equal(httpPlatformFromEnv({ HTTP_PLATFORM: 'fastify' }), 'fastify');
    assert.equal(httpPlatformFromEnv({ HTTP_PLATFORM: 'express' }), 'express');
  });

  it('refuses any other value at start, naming both', () => {
    for (const platform of ['fastify', 'express']) assert.deepEqual(environmentProblems({ ...valid, HTTP_PLATFORM: platform }), []);
    for (const platform of ['koa', 'Express', '']) {
      assert.deepEqual(environmentProblems({ ...valid, HTTP_PLATFORM: platform }), [
        'HTTP_PLATFORM: HTTP_PLATFORM must be fastify (the default) or express',
      ]);
    }
  });
});
