// The key-encryption keys (KEKs) as an operator handles them, through the CLI run as a process:
// `rewrap-keys` moves every data key to a new KEK without touching rows; a start with the KEK
// missing (production), malformed, not listed or wrong stops with a clear typed message, before
// anything is served.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { assertReadable, run } from './support/cli-run';
import { DEMO_TENANTS, prepareServiceRun, type ServiceRun } from './support/service-run';
import { withOwnerClient } from './support/test-database';
import { snapshotData } from './support/db-snapshot';

describe('key-encryption keys: rewrap, and a start with a missing or wrong one', () => {
  let service: ServiceRun;
  const k2 = randomBytes(32).toString('base64');
  const cli = (env: Record<string, string>, ...args: string[]) => run('cli', args, { ...service.env, ...env });
  const keyRows = () =>
    withOwnerClient(service.env.DATABASE_URL.split('/').pop()!.split('?')[0], async (c) => {
      const { rows } = await c.query(
        `SELECT tenant AS tenant_id, version, kek_id, encode(wrapped_key, 'hex') AS wrapped FROM tenancy.tenant_keys ORDER BY 1, 2`,
      );
      return rows as { tenant_id: string; kek_id: string; wrapped: string }[];
    });

  beforeAll(async () => {
    service = await prepareServiceRun(DEMO_TENANTS);
  });
  afterAll(() => service?.cleanup());

  it('the tenants provisioned get one data key each, wrapped by the current KEK (the development one unset)', async () => {
    const listed = await cli({}, 'list');
    assert.equal(listed.code, 0, listed.output);
    const rows = await keyRows();
    assert.deepEqual(rows.map((r) => r.tenant_id).sort(), DEMO_TENANTS.map((d) => d.id).sort());
    assert.ok(rows.every((r) => r.kek_id === 'dev'));
  });

  it('rewrap-keys moves every data key to the new KEK, leaving the rows as they were', async () => {
    const control = service.env.DATABASE_URL.split('/').pop()!.split('?')[0];
    const before = await snapshotData(control, service.env.TENANCY_DATABASE_PREFIX);
    const keysBefore = await keyRows();
    const ran = await cli({ TENANCY_KEKS: `k2:${k2},dev` }, 'rewrap-keys');
    assertReadable(ran.output);
    assert.equal(ran.code, 0, ran.output);
    assert.match(ran.output, /3 data keys re-wrapped under key-encryption key .k2./);
    const keysAfter = await keyRows();
    assert.ok(keysAfter.every((r) => r.kek_id === 'k2'));
    assert.ok(keysAfter.every((r, i) => r.wrapped !== keysBefore[i].wrapped));
    const after = await snapshotData(control, service.env.TENANCY_DATABASE_PREFIX);
    const tenantTables = Object.keys(before).filter((k) => /\.(users|projects)$/.test(k));
    assert.ok(tenantTables.length >= 3, JSON.stringify(Object.keys(before)));
    for (const table of tenantTables) assert.equal(after[table], before[table], table);
    // Only the new KEK is needed from now on.
    const alone = await cli({ TENANCY_KEKS: `k2:${k2}` }, 'list');
    assert.equal(alone.code, 0, alone.output);
  });

  const refused: [string, Record<string, string>, RegExp][] = [
    ['not set in production', { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) }, /TENANCY_KEKS is not set/],
    ['malformed', { TENANCY_KEKS: 'k2:not base64!' }, /TENANCY_KEKS must be <id>:<base64/],
    [
      'of the wrong length',
      { TENANCY_KEKS: `k2:${randomBytes(16).toString('base64')}` },
      /key 'k2' is 16 bytes; a key-encryption key is 32 bytes/,
    ],
    [
      'without the KEK in use',
      { TENANCY_KEKS: `k3:${randomBytes(32).toString('base64')}` },
      /3 data keys are wrapped by key-encryption key 'k2', which the key provider lacks/,
    ],
    [
      'with another key under the id in use',
      { TENANCY_KEKS: `k2:${randomBytes(32).toString('base64')}` },
      /Key-encryption key 'k2' does not unwrap the data key/,
    ],
  ];
  for (const [what, env, message] of refused) {
    it(`a start with the KEK ${what} stops with one clear line`, async () => {
      const ran = await cli(env, 'list');
      assertReadable(ran.output);
      assert.equal(ran.code, 1, ran.output);
      assert.match(ran.output, message);
      assert.doesNotMatch(ran.output, new RegExp(k2.replace(/[+/=]/g, '.')), 'a key is never printed');
    });
  }

  it('reencrypt, run from the CLI, gives a tenant its next data key version, wrapped by the current KEK', async () => {
    const ran = await cli({ TENANCY_KEKS: `k2:${k2}` }, 'reencrypt', 'gadget', '--batch', '2');
    assertReadable(ran.output);
    assert.equal(ran.code, 0, ran.output);
    assert.match(ran.output, /gadget: \d+ values under data key v2, \d+ passes/);
    const gadget = (await keyRows()).filter((r) => r.tenant_id === 'gadget');
    assert.deepEqual(
      gadget.map((r) => [r.kek_id, (r as unknown as { version: number }).version]),
      [
        ['k2', 1],
        ['k2', 2],
      ],
    );
  });
});
