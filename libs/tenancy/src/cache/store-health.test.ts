// The tenant cache's store: an operation that does not answer in time has failed, an outage is
// said once (not per request), and the memory store drops the entries whose time to live ended.
import assert from 'node:assert/strict';
import { describe, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { sweep } from './cache-store';
import { StoreHealth } from './store-health';

describe('StoreHealth', () => {
  it('fails an operation that does not answer within the limit, and one that rejects', async () => {
    const health = new StoreHealth(30);
    const started = Date.now();
    await assert.rejects(health.run(new Promise(() => undefined)), /no answer within 30 ms/);
    assert.ok(Date.now() - started < 1_000);
    await assert.rejects(health.run(Promise.reject(new Error('connection refused'))), /connection refused/);
    assert.equal(health.failures, 2);
    assert.equal(health.failing, true);
    assert.equal(await health.run(Promise.resolve('answered')), 'answered');
  });

  it('says an outage once when it starts and once when it ends, not for every failure', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    try {
      const health = new StoreHealth(50);
      for (let i = 0; i < 5; i++) await health.run(Promise.reject(new Error('down'))).catch(() => undefined);
      assert.equal(warn.mock.calls.length, 1);
      assert.match(String(warn.mock.calls[0][0]), /does not answer \(down\)/);
      health.ok();
      health.ok();
      assert.equal(log.mock.calls.length, 1);
      assert.equal(health.failing, false);
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });
});

describe('sweep of the memory store', () => {
  it('drops the expired entries and keeps the live ones and those without expiry', () => {
    const map = new Map<string, { expires?: number } | undefined>([
      ['expired', { expires: 1_000 }],
      ['live', { expires: 3_000 }],
      ['forever', {}],
    ]);
    sweep(map, 2_000);
    assert.deepEqual([...map.keys()], ['live', 'forever']);
  });
});
