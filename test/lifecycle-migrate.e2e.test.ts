// Migrating every tenant, against real PostgreSQL: 30 schema tenants and 5 database tenants get a
// new migration; one of them is made to fail and the run goes on past it; the ledger records every
// result; the next run skips the current tenants without a connection and retries only the failed
// one; two runs at once never migrate a tenant twice.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import request from 'supertest';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { MigrationRunReport, SHARED_TARGET, TenantLocation, TenantMigrations, TenantProvisioner } from '../libs/tenancy/src';
import { OwnerConnections } from '../libs/tenancy/src/connections/owner-connections';
import { TenantMigrator } from '../libs/tenancy/src/migrations/tenant-migrator';
import { TENANT_MIGRATIONS } from '../src/migrations';
import { startTestApp, TestApp } from './support/test-app';
import { withOwnerClient } from './support/test-database';

class AddUserTimezone1732752100001 implements MigrationInterface {
  name = 'AddUserTimezone1732752100001';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN timezone text`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN timezone`);
  }
}

/** Fails if it is ever applied twice to one place (CREATE INDEX without IF NOT EXISTS). */
class IndexUserTimezone1732752100002 implements MigrationInterface {
  name = 'IndexUserTimezone1732752100002';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX users_timezone_idx ON users (tenant_id, timezone)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX users_timezone_idx`);
  }
}

/** The app's migration set (users and projects, and whatever feature tables the app adds) and its last one. */
const BASE_SET = TENANT_MIGRATIONS.map((m) => new m().name ?? m.name);
const BASE = BASE_SET[BASE_SET.length - 1];
const V2 = 'AddUserTimezone1732752100001';
const V3 = 'IndexUserTimezone1732752100002';
const SCHEMA_TENANTS = Array.from({ length: 30 }, (_, i) => `m-s-${String(i).padStart(2, '0')}`);
const DATABASE_TENANTS = Array.from({ length: 5 }, (_, i) => `m-d-${i}`);
const ALL = [...SCHEMA_TENANTS, ...DATABASE_TENANTS];
const BROKEN = 'm-s-07';
const FILE_TENANT = 'file-schema';

async function parallel<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

/** Records every tenant location a migrator touches and every database an owner connection opens. */
function spy(t: TestApp): { migrated: string[]; opened: string[]; stop(): void } {
  const migrator = t.app.get(TenantMigrator);
  const owner = t.app.get(OwnerConnections);
  const migrate = migrator.migrate;
  const open = owner.open;
  const out = {
    migrated: [] as string[],
    opened: [] as string[],
    stop: () => {
      migrator.migrate = migrate;
      owner.open = open;
    },
  };
  migrator.migrate = function (this: TenantMigrator, location: TenantLocation, ...rest: unknown[]) {
    out.migrated.push(`${location.database}/${location.schema}`);
    return (migrate as (...args: unknown[]) => Promise<string[]>).call(this, location, ...rest);
  } as typeof migrate;
  owner.open = function (server: string, database: string) {
    out.opened.push(`${server}/${database}`);
    return open.call(this, server, database);
  };
  return out;
}

describe('migrating every tenant', () => {
  let base: TestApp;
  let v2: TestApp;
  const extra: TestApp[] = [];
  const schemaOf = (id: string) => `tenant_${id.replace(/-/g, '_')}`;
  const databaseOf = (id: string) => `${base.databaseStem}${id.replace(/-/g, '_')}`;
  /** Where a tenant's tables live, for an owner client: [database, schema]. */
  const placeOf = (id: string): [string, string] =>
    id.startsWith('m-d-') ? [databaseOf(id), 'public'] : [base.controlDatabase, schemaOf(id)];

  async function columnsOfUsers(id: string): Promise<string[]> {
    const [database, schema] = placeOf(id);
    return withOwnerClient(database, async (c) =>
      (
        await c.query(
          `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users' ORDER BY ordinal_position`,
          [schema],
        )
      ).rows.map((r) => r.column_name),
    );
  }

  async function appliedIn(id: string): Promise<string[]> {
    const [database, schema] = placeOf(id);
    // In the order they were written (the timestamp in the name), as the set defines them.
    const names: string[] = await withOwnerClient(database, async (c) =>
      (await c.query(`SELECT name FROM "${schema}".tenancy_migrations`)).rows.map((r) => r.name),
    );
    return names.sort((x, y) => x.replace(/\D/g, '').localeCompare(y.replace(/\D/g, '')));
  }

  /** The names in the order appliedIn gives them (by the timestamp in the name). */
  function inOrder(names: string[]): string[] {
    return [...names].sort((x, y) => x.replace(/\D/g, '').localeCompare(y.replace(/\D/g, '')));
  }

  function outcomeOf(report: MigrationRunReport, target: string) {
    const found = report.outcomes.filter((o) => o.target === target);
    assert.equal(found.length, 1, `one outcome for ${target}`);
    return found[0];
  }

  beforeAll(async () => {
    base = await startTestApp({ tenants: [{ id: FILE_TENANT, name: 'From the file', strategy: 'schema' }] });
    const provisioner = base.app.get(TenantProvisioner);
    const started = Date.now();
    await parallel(ALL, 4, (id) =>
      provisioner.provision({ id, name: `Tenant ${id}`, strategy: id.startsWith('m-d-') ? 'database' : 'schema' }),
    );
    console.log(
      `# provisioned ${SCHEMA_TENANTS.length} schema and ${DATABASE_TENANTS.length} database tenants in ${Date.now() - started} ms`,
    );
    // The cause of the one failure to come: the column the new migration adds is already there.
    await withOwnerClient(base.controlDatabase, (c) => c.query(`ALTER TABLE "${schemaOf(BROKEN)}".users ADD COLUMN timezone text`));
    // The service, redeployed with one more migration (a second instance on the same databases).
    v2 = await startTestApp({ join: base, migrations: [...TENANT_MIGRATIONS, AddUserTimezone1732752100001] });
  });

  afterAll(async () => {
    for (const app of [...extra, v2]) await app?.close();
    await base?.close();
  });

  it('reports every tenant on the old version before the run', async () => {
    const status = await v2.app.get(TenantMigrations).status();
    for (const id of ALL) {
      const row = status.find((s) => s.target === id);
      assert.deepEqual(row, {
        target: id,
        model: id.startsWith('m-d-') ? 'database' : 'schema',
        version: BASE,
        status: 'behind',
        error: null,
      });
    }
    // The instance's own start-up migrated the shared tables and the tenants of its file.
    assert.equal(status.find((s) => s.target === SHARED_TARGET)?.status, 'current');
    assert.equal(status.find((s) => s.target === FILE_TENANT)?.status, 'current');
  });

  let first: MigrationRunReport;

  it('migrates every tenant, goes on past the failing one and records each result', async () => {
    const progress: number[] = [];
    first = await v2.app.get(TenantMigrations).run({ concurrency: 4, onProgress: (done, total) => progress.push(done / total) });
    console.log(
      `# migration run over ${first.outcomes.length} targets: ${first.applied} applied, ${first.skipped} skipped, ${first.failed} failed in ${first.millis} ms`,
    );
    assert.equal(first.latest, V2);
    assert.equal(first.outcomes.length, ALL.length + 2);
    assert.equal(first.failed, 1);
    assert.equal(first.applied, ALL.length - 1);
    assert.equal(first.skipped, 2);
    assert.equal(progress.length, first.outcomes.length);
    assert.equal(progress.at(-1), 1);

    const broken = outcomeOf(first, BROKEN);
    assert.equal(broken.result, 'failed');
    assert.match(broken.error ?? '', /timezone.*already exists/);
    assert.deepEqual(broken.applied, []);
    for (const id of ALL.filter((x) => x !== BROKEN)) {
      assert.deepEqual(outcomeOf(first, id), {
        target: id,
        model: id.startsWith('m-d-') ? 'database' : 'schema',
        result: 'applied',
        applied: [V2],
      });
    }
    assert.equal(outcomeOf(first, SHARED_TARGET).result, 'skipped');
    assert.equal(outcomeOf(first, FILE_TENANT).result, 'skipped');
  });

  it('left each tenant as its result says: the new column everywhere but in the failed one, whose migration rolled back', async () => {
    for (const id of ALL) {
      const columns = await columnsOfUsers(id);
      assert.ok(columns.includes('timezone'), `${id} has the column`);
      assert.deepEqual(await appliedIn(id), inOrder(id === BROKEN ? BASE_SET : [...BASE_SET, V2]), id);
    }
  });

  it('records the results in the ledger: current on the new version, the failed one on its last good version with the error', async () => {
    const status = await v2.app.get(TenantMigrations).status();
    assert.equal(status.length, ALL.length + 2);
    for (const row of status) {
      if (row.target === BROKEN) {
        assert.equal(row.status, 'failed');
        assert.equal(row.version, BASE);
        assert.match(row.error ?? '', /timezone.*already exists/);
      } else {
        assert.deepEqual([row.target, row.status, row.version, row.error], [row.target, 'current', V2, null]);
      }
    }
    // The admin API shows the same versions.
    const ledger = await withOwnerClient(
      base.controlDatabase,
      async (c) => (await c.query(`SELECT target, version, status FROM tenancy.migration_ledger WHERE target = $1`, [BROKEN])).rows,
    );
    assert.deepEqual(ledger, [{ target: BROKEN, version: BASE, status: 'failed' }]);
  });

  it('runs again without connecting to any current tenant, retrying only the failed one (still failing)', async () => {
    const seen = spy(v2);
    // Proof that no connection is opened to the current tenant databases: they refuse every one.
    await withOwnerClient(undefined, async (c) => {
      for (const id of DATABASE_TENANTS) await c.query(`ALTER DATABASE "${databaseOf(id)}" WITH ALLOW_CONNECTIONS false`);
    });
    let report: MigrationRunReport;
    try {
      report = await v2.app.get(TenantMigrations).run({ concurrency: 4 });
    } finally {
      seen.stop();
      await withOwnerClient(undefined, async (c) => {
        for (const id of DATABASE_TENANTS) await c.query(`ALTER DATABASE "${databaseOf(id)}" WITH ALLOW_CONNECTIONS true`);
      });
    }
    assert.equal(report.skipped, ALL.length + 1);
    assert.equal(report.failed, 1);
    assert.equal(report.applied, 0);
    assert.equal(outcomeOf(report, BROKEN).result, 'failed');
    assert.deepEqual(seen.migrated, [`${base.controlDatabase}/${schemaOf(BROKEN)}`]);
    assert.ok(
      seen.opened.every((o) => o === `default/${base.controlDatabase}`),
      `opened ${seen.opened.join(', ')}`,
    );
  });

  it('resumes: once the cause is fixed, the next run migrates the failed tenant alone', async () => {
    await withOwnerClient(base.controlDatabase, (c) => c.query(`ALTER TABLE "${schemaOf(BROKEN)}".users DROP COLUMN timezone`));
    const seen = spy(v2);
    let report: MigrationRunReport;
    try {
      report = await v2.app.get(TenantMigrations).run({ concurrency: 4 });
    } finally {
      seen.stop();
    }
    console.log(`# resumed run: ${report.applied} applied, ${report.skipped} skipped in ${report.millis} ms`);
    assert.deepEqual([report.applied, report.skipped, report.failed], [1, ALL.length + 1, 0]);
    assert.deepEqual(outcomeOf(report, BROKEN), { target: BROKEN, model: 'schema', result: 'applied', applied: [V2] });
    assert.deepEqual(seen.migrated, [`${base.controlDatabase}/${schemaOf(BROKEN)}`]);
    assert.deepEqual(await appliedIn(BROKEN), inOrder([...BASE_SET, V2]));
    const status = await v2.app.get(TenantMigrations).status();
    assert.ok(
      status.every((s) => s.status === 'current' && s.version === V2 && s.error === null),
      JSON.stringify(status.filter((s) => s.status !== 'current')),
    );

    const noop = await v2.app.get(TenantMigrations).run({ concurrency: 4 });
    console.log(`# run with nothing to do over ${noop.outcomes.length} targets: ${noop.millis} ms`);
    assert.equal(noop.skipped, noop.outcomes.length);
  });

  it('serves the migrated tenants (the runtime role got its grants back on the migrated tables)', async () => {
    for (const id of [BROKEN, 'm-s-00', 'm-d-0']) {
      const made = await request(v2.http)
        .post('/users')
        .set('X-Tenant-ID', id)
        .send({ email: `after@${id}.test`, name: 'After' });
      assert.equal(made.status, 201, made.text);
      assert.equal((await request(v2.http).get(`/users/${made.body.id}`).set('X-Tenant-ID', id)).status, 200);
    }
  });

  it('two runs at once (two instances) never migrate a tenant twice', async () => {
    const migrations = [...TENANT_MIGRATIONS, AddUserTimezone1732752100001, IndexUserTimezone1732752100002];
    extra.push(await startTestApp({ join: base, migrations }));
    extra.push(await startTestApp({ join: base, migrations }));
    const [a, b] = await Promise.all(extra.map((app) => app.app.get(TenantMigrations).run({ concurrency: 4 })));
    console.log(`# two concurrent runs: ${a.millis} ms and ${b.millis} ms`);
    assert.deepEqual([a.failed, b.failed], [0, 0], JSON.stringify([...a.outcomes, ...b.outcomes].filter((o) => o.error)));
    let contended = 0;
    for (const id of ALL) {
      const both = [outcomeOf(a, id), outcomeOf(b, id)];
      const applications = both.flatMap((o) => o.applied);
      assert.deepEqual(applications, [V3], `${id} was migrated exactly once`);
      if (both.every((o) => o.result === 'applied')) contended++;
      assert.deepEqual(await appliedIn(id), inOrder([...BASE_SET, V2, V3]));
    }
    console.log(`# ${contended} of ${ALL.length} tenants were taken up by both runs; the advisory lock let one of them apply`);
    const status = await extra[0].app.get(TenantMigrations).status();
    assert.ok(status.every((s) => s.status === 'current' && s.version === V3));
  });
});
