// A forged deployment mark: the mark is a comment every role can read, so a role with CREATEDB
// (another deployment's owner, say staging's) can make a database under this deployment's name,
// comment it with this deployment's mark and put its own fence function in it. Provisioning must
// refuse it: a database or schema is this deployment's only when its owner role owns it too.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Client } from 'pg';
import { DeploymentOwnershipError, TenantProvisioner } from '../libs/tenancy/src';
import { startTestApp, TestApp } from './support/test-app';
import { uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';

describe('a forged deployment mark', () => {
  let t: TestApp;
  const intruder = `intruder_${uniqueSuffix()}`;

  beforeAll(async () => {
    t = await startTestApp({ tenants: [{ id: 'fm-s1', name: 'S1', strategy: 'shared' }] });
    await withOwnerClient(undefined, (c) => c.query(`CREATE ROLE ${intruder} LOGIN CREATEDB PASSWORD 'intruder'`));
  });
  afterAll(async () => {
    await withOwnerClient(undefined, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS "${t.databaseStem}victim" WITH (FORCE)`);
      await c.query(`DROP ROLE IF EXISTS ${intruder}`);
    });
    await t?.close();
  });

  it('is not adopted: provisioning refuses a database another role made and marked', async () => {
    const u = new URL(urlFor('postgres'));
    u.username = intruder;
    u.password = 'intruder';
    const c = new Client({ connectionString: u.toString() });
    await c.connect();
    const database = `${t.databaseStem}victim`;
    try {
      // The mark, read by an unprivileged role from the runtime role's comment.
      const { rows } = await c.query(`SELECT shobj_description(oid, 'pg_authid') AS mark FROM pg_roles WHERE rolname = $1`, [
        t.runtimeRole,
      ]);
      assert.equal(rows[0].mark, t.deploymentMark);
      await c.query(`CREATE DATABASE "${database}"`);
      await c.query(`COMMENT ON DATABASE "${database}" IS '${rows[0].mark.replace(/'/g, "''")}'`);
    } finally {
      await c.end();
    }
    u.pathname = `/${database}`;
    const d = new Client({ connectionString: u.toString() });
    await d.connect();
    await d.query(
      `CREATE FUNCTION public.tenancy_fenced(fenced_tenant text) RETURNS boolean LANGUAGE sql AS $$ SELECT pg_catalog.set_config('app.tenant_id', fenced_tenant, true) IS NULL $$`,
    );
    await d.end();

    const outcome = await t.app
      .get(TenantProvisioner)
      .provision({ id: 'victim', name: 'Victim', strategy: 'database' })
      .then(
        () => 'adopted',
        (e: unknown) => e,
      );
    const facts = await withOwnerClient(
      database,
      async (o) =>
        (
          await o.query(`SELECT (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) AS db_owner,
                             (SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'tenancy_fenced') AS fence_owner`)
        ).rows[0],
    ).catch(() => null);
    assert.ok(
      outcome instanceof DeploymentOwnershipError,
      `provisioning ${String(outcome)}; the tenant database now: ${JSON.stringify(facts)}`,
    );
  });
});
