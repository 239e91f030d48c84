// @nestjs/typeorm beside the tenancy module (issue 10, "The named stack"): the reference service
// takes its owner DataSource from TypeOrmModule.forRootAsync and its feature code injects tenant
// repositories with @InjectRepository(Entity, TENANT_CONNECTION).
// Part 1, once per model on pools of two connections: a repository injected with @nestjs/typeorm's
// token is the tenant repository (same object) and reads and writes only the current tenant's rows,
// also when another tenant's id is named and when both tenants' requests run at once.
// Part 2: the owner connection is the app's DataSource (one owner pool, counted in pg_stat_activity),
// and an ownerDataSource that is missing or on another database fails the start with a typed error.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { getDataSourceToken, getEntityManagerToken, getRepositoryToken, TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { EntityManager, type DataSource, type Repository } from 'typeorm';
import {
  getTenantRepositoryToken,
  IsolationModel,
  NoTenantContextError,
  TENANT_CONNECTION,
  TenancyConfigError,
  TenancyExceptionFilter,
  TenancyModule,
  TenancyService,
  TenantCatalog,
  TenantDataSource,
  TenantProvisioner,
} from '../libs/tenancy/src';
import { OwnerConnections } from '../libs/tenancy/src/connections/owner-connections';
import { quoteIdent } from '../libs/tenancy/src/core/sql';
import { IsolationStrategies } from '../libs/tenancy/src/strategies/isolation-strategies';
import { OWNER_APPLICATION_NAME } from '../src/database/owner-data-source';
import { TENANT_MIGRATIONS } from '../src/migrations';
import { Project } from '../src/projects/project.entity';
import { User } from '../src/users/user.entity';
import { UsersService } from '../src/users/users.service';
import { DEFAULT_TIERS, dropEverything, startTestApp, type TestApp } from './support/test-app';
import { uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';

const MODELS: IsolationModel[] = ['shared', 'schema', 'database'];
const as = (tenant: string) => ({ 'X-Tenant-ID': tenant });

interface UserBody {
  id: string;
  email: string;
  name: string;
}

for (const model of MODELS) {
  describe(`@InjectRepository(User, TENANT_CONNECTION) under the ${model} model (pools of two connections)`, () => {
    let t: TestApp;
    const A = `orm-a-${model}`;
    const B = `orm-b-${model}`;
    const users: Record<string, UserBody[]> = { [A]: [], [B]: [] };

    const typeOrmRepository = () => t.app.get<Repository<User>>(getRepositoryToken(User, TENANT_CONNECTION), { strict: false });
    const run = <T>(tenant: string, fn: () => Promise<T>) => t.app.get(TenancyService).run(tenant, fn);

    /** Every user row of the tenant's place, read as the owner with row security off (what really is there). */
    async function ownerRows(tenant: string): Promise<{ tenant_id: string; id: string; name: string }[]> {
      const record = t.app.get(TenantCatalog).get(tenant)!;
      const { database, schema } = t.app.get(IsolationStrategies).for(record.strategy).location(record);
      return withOwnerClient(database, async (c) => {
        await c.query('SET row_security = off');
        const { rows } = await c.query(
          `SELECT tenant_id, id::text, name FROM ${quoteIdent(schema)}.users WHERE tenant_id = $1 ORDER BY id`,
          [tenant],
        );
        return rows;
      });
    }

    beforeAll(async () => {
      t = await startTestApp({
        tenants: [
          { id: A, name: 'Tenant A', strategy: model, tier: model === 'database' ? 'pair' : undefined },
          { id: B, name: 'Tenant B', strategy: model, tier: model === 'database' ? 'pair' : undefined },
        ],
        tiers: { ...DEFAULT_TIERS, pair: { strategy: 'database', pool: { max: 2 } } },
        env: { TENANCY_POOL_MAX: '2' },
      });
      for (const tenant of [A, B]) {
        for (const label of ['first', 'second', 'third']) {
          const res = await request(t.http)
            .post('/users')
            .set(as(tenant))
            .send({ email: `${label}@${tenant}.test`, name: `${label} of ${tenant}` });
          assert.equal(res.status, 201, JSON.stringify(res.body));
          users[tenant].push(res.body);
        }
      }
    });
    afterAll(async () => t?.close());

    it('the premise: both tenants have their rows, where the owner sees them', async () => {
      for (const tenant of [A, B]) {
        const rows = await ownerRows(tenant);
        assert.deepEqual(rows.map((r) => r.id).sort(), users[tenant].map((u) => u.id).sort());
      }
    });

    it('@nestjs/typeorm’s tokens give the tenant repository, DataSource and EntityManager the library provides', () => {
      const repo = typeOrmRepository();
      assert.equal(repo, t.app.get(getTenantRepositoryToken(User), { strict: false }), 'not the @InjectTenantRepository object');
      // The reference service injects it with @InjectRepository(User, TENANT_CONNECTION).
      assert.equal((t.app.get(UsersService) as unknown as { users: unknown }).users, repo);
      assert.equal(t.app.get(getDataSourceToken(TENANT_CONNECTION), { strict: false }), t.app.get(TenantDataSource));
      const manager = t.app.get<EntityManager>(getEntityManagerToken(TENANT_CONNECTION), { strict: false });
      assert.ok(manager instanceof EntityManager);
      // Outside a tenant context nothing reaches the database.
      assert.throws(() => repo.find(), NoTenantContextError);
      assert.throws(() => manager.find(User), NoTenantContextError);
    });

    it('over HTTP, another tenant’s user id is 404 for GET, PATCH and DELETE, and the row is unchanged', async () => {
      const victim = users[A][0];
      const before = await ownerRows(A);
      assert.equal((await request(t.http).get(`/users/${victim.id}`).set(as(A))).status, 200);
      assert.equal((await request(t.http).get(`/users/${victim.id}`).set(as(B))).status, 404);
      assert.equal((await request(t.http).patch(`/users/${victim.id}`).set(as(B)).send({ name: 'taken over' })).status, 404);
      assert.equal((await request(t.http).delete(`/users/${victim.id}`).set(as(B))).status, 404);
      assert.deepEqual(await ownerRows(A), before);
      const list = await request(t.http).get('/users?limit=100').set(as(B));
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items.map((u: UserBody) => u.id).sort(), users[B].map((u) => u.id).sort());
    });

    it('the injected repository and EntityManager, in a tenant’s unit of work, find only that tenant’s rows', async () => {
      const repo = typeOrmRepository();
      const manager = t.app.get<EntityManager>(getEntityManagerToken(TENANT_CONNECTION), { strict: false });
      const victim = users[A][0].id;
      assert.equal((await run(A, () => repo.findOneBy({ id: victim })))?.id, victim);
      assert.equal(await run(B, () => repo.findOneBy({ id: victim })), null);
      assert.equal(await run(B, () => manager.findOneBy(User, { id: victim })), null);
      for (const tenant of [A, B]) {
        const seen = await run(tenant, () => repo.find());
        assert.deepEqual(seen.map((u) => u.id).sort(), users[tenant].map((u) => u.id).sort());
      }
      // A write aimed at A's row from B's unit of work touches nothing.
      const before = await ownerRows(A);
      const result = await run(B, () => repo.update({ id: victim }, { name: 'taken over' }));
      assert.equal(result.affected, 0);
      await run(B, () => repo.delete({ id: victim }));
      assert.deepEqual(await ownerRows(A), before);
    });

    it('both tenants at once, 40 requests on pools of two: each answer holds only its tenant’s rows', async () => {
      const calls = Array.from({ length: 40 }, (_, i) => {
        const tenant = i % 2 ? A : B;
        const other = tenant === A ? B : A;
        // Every fourth call names the other tenant's user: 404 however the requests interleave.
        if (i % 4 < 2)
          return request(t.http)
            .get('/users?limit=100')
            .set(as(tenant))
            .then((res) => ({ tenant, res, foreign: false }));
        const id = (i % 8 < 4 ? users[tenant] : users[other])[0].id;
        return request(t.http)
          .get(`/users/${id}`)
          .set(as(tenant))
          .then((res) => ({ tenant, res, foreign: id !== users[tenant][0].id }));
      });
      for (const { tenant, res, foreign } of await Promise.all(calls)) {
        if (foreign) {
          assert.equal(res.status, 404, res.text);
          continue;
        }
        assert.equal(res.status, 200, res.text);
        const ids: string[] = res.body.items ? res.body.items.map((u: UserBody) => u.id) : [res.body.id];
        const own = new Set(users[tenant].map((u) => u.id));
        assert.ok(
          ids.every((id) => own.has(id)),
          `${tenant} was answered rows of another tenant: ${ids.join(', ')}`,
        );
      }
      // The same through the injected repository, units of both tenants interleaved in one process.
      const repo = typeOrmRepository();
      const seen = await Promise.all(
        Array.from({ length: 20 }, (_, i) => {
          const tenant = i % 2 ? A : B;
          return run(tenant, async () => {
            await new Promise((r) => setTimeout(r, i % 3));
            return { tenant, ids: (await repo.find()).map((u) => u.id) };
          });
        }),
      );
      for (const { tenant, ids } of seen) assert.deepEqual(ids.sort(), users[tenant].map((u) => u.id).sort());
    });
  });
}

describe('the owner connection is the app’s TypeOrmModule DataSource', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      tenants: [
        { id: 'own-shared', name: 'Shared', strategy: 'shared' },
        { id: 'own-schema', name: 'Schema', strategy: 'schema' },
        { id: 'own-db', name: 'Database', strategy: 'database' },
      ],
    });
  });
  afterAll(async () => t?.close());

  it('the module’s control pool is the DataSource TypeOrmModule provides', async () => {
    const appDataSource = t.app.get<DataSource>(getDataSourceToken());
    assert.equal(await t.app.get(OwnerConnections).controlDataSource(), appDataSource);
    assert.ok(appDataSource.isInitialized);
    assert.equal(appDataSource.options.type, 'postgres');
  });

  it('one owner pool on the control database: every owner connection there is the app’s, none the module’s own', async () => {
    // Owner work of every kind first: a tenant provisioned of each model, the catalog re-read.
    const provisioner = t.app.get(TenantProvisioner);
    for (const strategy of MODELS) await provisioner.provision({ id: `own-new-${strategy}`, name: strategy, strategy });
    const appDataSource = t.app.get<DataSource>(getDataSourceToken());
    // Counted through the app's DataSource itself, so at least the asking connection is one of them.
    const rows: { application_name: string; n: number }[] = await appDataSource.query(
      `SELECT application_name, count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND usename = current_user GROUP BY 1 ORDER BY 1`,
    );
    const byName = Object.fromEntries(rows.map((r) => [r.application_name, r.n]));
    assert.ok(byName[OWNER_APPLICATION_NAME] >= 1, JSON.stringify(byName));
    assert.ok(byName[OWNER_APPLICATION_NAME] <= 12, JSON.stringify(byName));
    // Besides the app's pool, only the catalog's LISTEN session (one connection, not a pool).
    assert.deepEqual(
      Object.keys(byName)
        .filter((n) => n !== OWNER_APPLICATION_NAME)
        .sort(),
      ['nest-tenancy:catalog'],
      JSON.stringify(byName),
    );
    assert.equal(byName['nest-tenancy:catalog'], 1);
    // Nowhere on the server (the control database, the deployment's tenant databases) does the
    // module keep an owner pool of its own once its work is done.
    // (A short-lived one just closed may take a moment to leave pg_stat_activity: asked for 2 s.)
    let own: { datname: string }[] = [];
    for (let i = 0; i < 20; i++) {
      own = await withOwnerClient(undefined, async (c) => {
        const { rows } = await c.query(
          `SELECT datname FROM pg_stat_activity WHERE application_name = 'nest-tenancy:owner' AND (datname = $1 OR starts_with(datname, $2))`,
          [t.controlDatabase, t.databasePrefix],
        );
        return rows;
      });
      if (!own.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(own, []);
  });

  it('when the app closes, TypeOrmModule closes its DataSource (the module does not close it first)', async () => {
    const appDataSource = t.app.get<DataSource>(getDataSourceToken());
    let destroyed = 0;
    const destroy = appDataSource.destroy.bind(appDataSource);
    appDataSource.destroy = () => (destroyed++, destroy());
    const closing = t;
    t = undefined as unknown as TestApp;
    await closing.close();
    assert.equal(destroyed, 1);
    assert.equal(appDataSource.isInitialized, false);
  });
});

describe('ownerDataSource that cannot serve: a typed start-up error, nothing created', () => {
  const suffix = uniqueSuffix();
  const controlDatabase = `nt_${suffix}`;
  const otherDatabase = `nt_${suffix}_other`;
  const runtimeRole = `nt_app_${suffix}`;
  const databasePrefix = `nt${suffix}_`;

  beforeAll(async () => {
    await withOwnerClient(undefined, async (c) => {
      await c.query(`CREATE DATABASE "${controlDatabase}"`);
      await c.query(`CREATE DATABASE "${otherDatabase}"`);
    });
  });
  afterAll(async () => {
    await dropEverything(otherDatabase, databasePrefix, runtimeRole);
    await dropEverything(controlDatabase, databasePrefix, runtimeRole);
  });

  async function start(ownerUrl: string | undefined, ownerDataSource: ReturnType<typeof getDataSourceToken>): Promise<unknown> {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ...(ownerUrl ? [TypeOrmModule.forRoot({ type: 'postgres', url: ownerUrl, manualInitialization: true })] : []),
        TenancyModule.forRoot({
          ownerDataSource,
          databaseUrl: urlFor(controlDatabase),
          catalog: { tiers: DEFAULT_TIERS, tenants: [{ id: 'odb-a', name: 'A', strategy: 'shared' }] },
          entities: [User, Project],
          migrations: TENANT_MIGRATIONS,
          runtimeRole,
          naming: { databasePrefix },
        }),
      ],
      providers: [{ provide: APP_FILTER, useClass: TenancyExceptionFilter }],
    }).compile();
    try {
      await moduleRef.init();
      return undefined;
    } catch (err) {
      return err;
    } finally {
      await moduleRef.close().catch(() => undefined);
    }
  }

  const controlSchemaExists = () =>
    withOwnerClient(controlDatabase, async (c) => (await c.query(`SELECT to_regnamespace('tenancy') IS NOT NULL AS there`)).rows[0].there);

  it('a DataSource on another database than databaseUrl’s: TenancyConfigError naming both', async () => {
    const err = await start(urlFor(otherDatabase), getDataSourceToken());
    assert.ok(err instanceof TenancyConfigError, String(err));
    assert.match(err.message, new RegExp(`ownerDataSource \\(DataSource\\): it signs in to database "${otherDatabase}"`));
    assert.match(err.message, new RegExp(`names database "${controlDatabase}"`));
    assert.equal(await controlSchemaExists(), false, 'the control tables were created before the check');
  });

  it('ownerDataSource in what useFactory returns (it goes beside useFactory): TenancyConfigError saying so', async () => {
    const options = {
      databaseUrl: urlFor(controlDatabase),
      catalog: { tiers: DEFAULT_TIERS, tenants: [] },
      migrations: TENANT_MIGRATIONS,
      ownerDataSource: getDataSourceToken(),
    };
    const err = await Test.createTestingModule({ imports: [TenancyModule.forRootAsync({ useFactory: () => options })] })
      .compile()
      .then(
        (moduleRef) => moduleRef.close().then(() => undefined),
        (e: unknown) => e,
      );
    assert.ok(err instanceof TenancyConfigError, String(err));
    assert.match(
      err.message,
      /ownerDataSource: give it to TenancyModule\.forRootAsync\(\{ ownerDataSource, useFactory, \.\.\. \}\) itself/,
    );
    assert.equal(await controlSchemaExists(), false);
  });

  it('a token nothing provides: TenancyConfigError saying to register TypeOrmModule', async () => {
    const err = await start(undefined, getDataSourceToken('reporting'));
    assert.ok(err instanceof TenancyConfigError, String(err));
    assert.match(
      err.message,
      /ownerDataSource \(reportingDataSource\): no TypeORM DataSource is provided under this token; register TypeOrmModule/,
    );
    assert.doesNotMatch(err.message, /^\s+at /m);
    assert.equal(await controlSchemaExists(), false);
  });
});
