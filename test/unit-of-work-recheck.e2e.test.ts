// A unit of work is resolved when the request arrives but begins its transaction at its first query,
// possibly much later. The tenant is checked again at that moment, so a change in between (suspend,
// a move's freeze, a switch to another model) is never ignored by a transaction that starts late.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, beforeEach, describe, it } from '@jest/globals';
import { TenancyService, TenantCatalog, TenantDataSource, TenantMovingError, TenantSuspendedError } from '../libs/tenancy/src';
import { startTestApp, TestApp } from './support/test-app';

describe('the tenant is re-checked when a unit of work begins', () => {
  let t: TestApp;
  let tenancy: TenancyService;
  let catalog: TenantCatalog;
  let tds: TenantDataSource;

  beforeAll(async () => {
    t = await startTestApp({ tenants: [{ id: 'late', name: 'Late', strategy: 'schema' }] });
    tenancy = t.app.get(TenancyService);
    catalog = t.app.get(TenantCatalog);
    tds = t.app.get(TenantDataSource);
  });
  afterAll(async () => t?.close());
  beforeEach(async () => {
    await catalog.setStatus('late', 'active');
  });

  it('a unit opened before a suspend is refused at its first query', async () => {
    await assert.rejects(
      tenancy.run('late', async () => {
        await catalog.setStatus('late', 'suspended');
        return tds.query('SELECT 1');
      }),
      TenantSuspendedError,
    );
  });

  it('a unit opened before a move froze the tenant is refused at its first query (it may write)', async () => {
    await assert.rejects(
      tenancy.run('late', async () => {
        await catalog.setStatus('late', 'moving');
        return tds.query('SELECT 1');
      }),
      TenantMovingError,
    );
  });

  it('a unit whose transaction began before the change goes on (the freeze waits for it)', async () => {
    const rows = await tenancy.run('late', async () => {
      await tds.query('SELECT 1');
      await catalog.setStatus('late', 'moving');
      return tds.query<{ tenant: string }[]>(`SELECT current_setting('app.tenant_id') AS tenant`);
    });
    assert.deepEqual(rows, [{ tenant: 'late' }]);
  });

  it('a unit of an active tenant is served', async () => {
    const rows = await tenancy.run('late', () => tds.query<{ n: number }[]>('SELECT 1 AS n'));
    assert.deepEqual(rows, [{ n: 1 }]);
  });
});
