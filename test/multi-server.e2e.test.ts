// The database model across servers: TENANT_DB_SERVERS names a second PostgreSQL (another embedded
// instance started by this suite), a tenant lives there, and a tenant moves between the servers.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import request from 'supertest';
import { TenantMover } from '../libs/tenancy/src';
import { EmbeddedPostgres, startEmbeddedPostgres } from '../src/database/embedded-postgres';
import { startTestApp, TestApp } from './support/test-app';

async function databasesOn(url: string, prefix: string): Promise<string[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query(`SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1`, [prefix]);
    return rows.map((r) => r.datname);
  } finally {
    await c.end();
  }
}

describe('database model on a second server', () => {
  let second: EmbeddedPostgres;
  let dir: string;
  let t: TestApp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nt-second-'));
    second = await startEmbeddedPostgres({ dir, persistent: false });
    t = await startTestApp({
      tenants: [
        { id: 'eu-corp', name: 'EU Corp', strategy: 'database', server: 'eu' },
        { id: 'home-corp', name: 'Home Corp', strategy: 'database' },
      ],
      env: { TENANT_DB_SERVERS: `eu=${second.url}` },
    });
  });

  afterAll(async () => {
    await t?.close();
    await second?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the tenant database on the named server, not on the default one', async () => {
    assert.deepEqual(await databasesOn(second.url, t.databasePrefix), [`${t.databaseStem}eu_corp`]);
    assert.deepEqual(await databasesOn(t.databaseUrl, t.databasePrefix), [`${t.databaseStem}home_corp`]);
  });

  it('serves both tenants, each from its own server, and keeps them apart', async () => {
    const a = await request(t.http).post('/users').set('X-Tenant-ID', 'eu-corp').send({ email: 'eu@x.test', name: 'Eu' });
    const b = await request(t.http).post('/users').set('X-Tenant-ID', 'home-corp').send({ email: 'home@x.test', name: 'Home' });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.equal((await request(t.http).get(`/users/${a.body.id}`).set('X-Tenant-ID', 'home-corp')).status, 404);
    const c = new Client({ connectionString: new URL(`/${t.databaseStem}eu_corp`, second.url).toString() });
    await c.connect();
    const { rows } = await c.query(`SELECT tenant_id, id FROM public.users`);
    await c.end();
    assert.deepEqual(rows, [{ tenant_id: 'eu-corp', id: a.body.id }]);
  });

  it('moves a tenant from the second server to the default one, keeping ids, and drops the old database', async () => {
    const made = await request(t.http).post('/users').set('X-Tenant-ID', 'eu-corp').send({ email: 'mover@x.test', name: 'Mover' });
    assert.equal(made.status, 201);
    const report = await t.app.get(TenantMover).move('eu-corp', { strategy: 'database', server: 'default' });
    assert.deepEqual(report.from, { strategy: 'database', server: 'eu' });
    assert.deepEqual(report.to, { strategy: 'database', server: 'default' });
    assert.equal(report.rows.users, 2);
    const got = await request(t.http).get(`/users/${made.body.id}`).set('X-Tenant-ID', 'eu-corp');
    assert.equal(got.status, 200);
    assert.equal(got.body.email, 'mover@x.test');
    assert.deepEqual(await databasesOn(second.url, t.databasePrefix), []);
    assert.deepEqual(await databasesOn(t.databaseUrl, t.databasePrefix), [`${t.databaseStem}eu_corp`, `${t.databaseStem}home_corp`]);
  });
});
