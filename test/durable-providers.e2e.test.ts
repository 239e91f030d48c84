// Request scope the tenancy way, on a small Nest app built with TenancyModule.forRoot directly:
// a durable provider is built once per tenant, a plain request-scoped one once per request, and
// singletons (TenantDataSource, a controller that reaches the scoped providers through ModuleRef)
// stay singletons.
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Controller, Get, INestApplication, Inject, Injectable, Req, Scope } from '@nestjs/common';
import { APP_FILTER, ContextIdFactory, ModuleRef } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import {
  CURRENT_TENANT,
  CurrentTenant,
  InjectCurrentStrategy,
  InjectCurrentTenantDataSource,
  type IsolationStrategy,
  TenancyExceptionFilter,
  TenancyModule,
  TenancyService,
  TenantCatalog,
  TenantDataSource,
  TenantLifecycle,
  TenantMover,
  TenantProvisioner,
  TenantScopeMismatchError,
  type TenantDefinition,
} from '../libs/tenancy/src';
import { tenantContextIdStrategy } from '../libs/tenancy/src/tenancy.module';
import { TENANT_MIGRATIONS } from '../src/migrations';
import { Project } from '../src/projects/project.entity';
import { User } from '../src/users/user.entity';
import { DEFAULT_TIERS, dropEverything } from './support/test-app';
import { uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';
import { startNestApp } from './support/nest-app';

const TENANTS: TenantDefinition[] = [
  { id: 'dp-a', name: 'Durable A', strategy: 'shared' },
  { id: 'dp-b', name: 'Durable B', strategy: 'schema' },
  { id: 'dp-c', name: 'Durable C', strategy: 'database' },
  { id: 'dp-d', name: 'Durable D', strategy: 'shared' },
  { id: 'dp-e', name: 'Durable E', strategy: 'database' },
];

/** Every instance each class built, in order. */
const built = {
  durable: [] as TenantScopedCounter[],
  perRequest: [] as PerRequestCounter[],
  durableController: [] as DurableController[],
  perRequestController: [] as PerRequestController[],
  singletonController: [] as SingletonController[],
};
/** Every TenantDataSource a request handler saw. */
const dataSourcesSeen: TenantDataSource[] = [];
/** The durable (per-tenant) TenantDataSources, numbered in the order first seen; the last one seen per tenant. */
const durableDataSources = new Map<TenantDataSource, number>();
const lastDurableDataSource = new Map<string, TenantDataSource>();

@Injectable({ scope: Scope.REQUEST, durable: true })
class TenantScopedCounter {
  readonly instance = built.durable.push(this);
  constructor(@Inject(CURRENT_TENANT) readonly tenant: CurrentTenant) {}
}

@Injectable({ scope: Scope.REQUEST })
class PerRequestCounter {
  readonly instance = built.perRequest.push(this);
  constructor(
    @Inject(CURRENT_TENANT) readonly tenant: CurrentTenant,
    readonly durable: TenantScopedCounter,
  ) {}
}

async function databaseTenant(data: TenantDataSource): Promise<string> {
  dataSourcesSeen.push(data);
  const [row] = await data.query<{ tenant: string }[]>(`SELECT current_setting('app.tenant_id') AS tenant`);
  return row.tenant;
}

/** Injects the durable provider, so it is durable itself: one instance per tenant. */
@Controller('durable')
class DurableController {
  readonly instance = built.durableController.push(this);
  constructor(
    private readonly counter: TenantScopedCounter,
    private readonly data: TenantDataSource,
  ) {}

  @Get()
  async get() {
    return {
      controller: this.instance,
      durable: this.counter.instance,
      tenant: this.counter.tenant.id,
      model: this.counter.tenant.record?.strategy,
      databaseTenant: await databaseTenant(this.data),
    };
  }
}

/** Injects a non-durable request-scoped provider, so it is built per request as well. */
@Controller('per-request')
class PerRequestController {
  readonly instance = built.perRequestController.push(this);
  constructor(
    private readonly counter: PerRequestCounter,
    private readonly data: TenantDataSource,
  ) {}

  @Get()
  async get() {
    return {
      controller: this.instance,
      perRequest: this.counter.instance,
      durable: this.counter.durable.instance,
      tenant: this.counter.tenant.id,
      databaseTenant: await databaseTenant(this.data),
    };
  }
}

/** Injects only singletons and reaches the scoped providers through ModuleRef: it stays a singleton. */
@Controller('singleton')
class SingletonController {
  readonly instance = built.singletonController.push(this);
  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly data: TenantDataSource,
  ) {}

  @Get()
  async get(@Req() req: object) {
    // Nest's documented pattern for resolving request-scoped providers by hand.
    const contextId = ContextIdFactory.getByRequest(req);
    this.moduleRef.registerRequestByContextId(req, contextId);
    const durable = await this.moduleRef.resolve(TenantScopedCounter, contextId, { strict: false });
    const perRequest = await this.moduleRef.resolve(PerRequestCounter, contextId, { strict: false });
    return {
      controller: this.instance,
      durable: durable.instance,
      perRequest: perRequest.instance,
      tenant: durable.tenant.id,
      databaseTenant: await databaseTenant(this.data),
    };
  }
}

/**
 * The NestJS-native path: the current tenant's strategy and DataSource injected as durable
 * request-scoped providers (so the controller is durable too: one per tenant).
 */
@Controller('native')
class NativeController {
  constructor(
    @InjectCurrentStrategy() private readonly strategy: IsolationStrategy,
    @InjectCurrentTenantDataSource() private readonly data: TenantDataSource,
    @Inject(CURRENT_TENANT) private readonly tenant: CurrentTenant,
  ) {}

  @Get()
  async get() {
    if (!durableDataSources.has(this.data)) durableDataSources.set(this.data, durableDataSources.size + 1);
    lastDurableDataSource.set(this.tenant.id, this.data);
    const [row] = await this.data.query<{ tenant: string }[]>(`SELECT current_setting('app.tenant_id') AS tenant`);
    return {
      tenant: this.tenant.id,
      model: this.strategy.model,
      dataSource: durableDataSources.get(this.data),
      dataSourceTenant: this.data.tenant.id,
      databaseTenant: row.tenant,
    };
  }
}

describe('durable (per-tenant) providers', () => {
  let app: INestApplication;
  const suffix = uniqueSuffix();
  const controlDatabase = `nt_${suffix}`;
  const runtimeRole = `nt_app_${suffix}`;
  const databasePrefix = `nt${suffix}_`;

  const call = (path: string, tenant: string) => request(app.getHttpServer()).get(path).set('X-Tenant-ID', tenant);
  async function body(path: string, tenant: string): Promise<Record<string, any>> {
    const res = await call(path, tenant);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.tenant, tenant, 'the provider was built for another tenant');
    assert.equal(res.body.databaseTenant, tenant, 'the request ran in another tenant’s transaction');
    return res.body;
  }

  beforeAll(async () => {
    await withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${controlDatabase}"`));
    const moduleRef = await Test.createTestingModule({
      imports: [
        TenancyModule.forRoot({
          databaseUrl: urlFor(controlDatabase),
          catalog: { tiers: DEFAULT_TIERS, tenants: TENANTS },
          entities: [User, Project],
          migrations: TENANT_MIGRATIONS,
          runtimeRole,
          naming: { databasePrefix },
        }),
      ],
      controllers: [DurableController, PerRequestController, SingletonController, NativeController],
      providers: [TenantScopedCounter, PerRequestCounter, { provide: APP_FILTER, useClass: TenancyExceptionFilter }],
    }).compile();
    app = await startNestApp(moduleRef, { logger: process.env.TEST_LOG ? ['error', 'warn', 'log'] : false });
  });
  afterAll(async () => {
    await app?.close();
    await dropEverything(controlDatabase, databasePrefix, runtimeRole);
  });

  it('a singleton controller reaches the durable provider through ModuleRef, even as a tenant’s first request', async () => {
    // dp-c has had no request yet: its durable instance is built here, from the request itself.
    const first = await body('/singleton', 'dp-c');
    const second = await body('/singleton', 'dp-c');
    assert.equal(second.durable, first.durable);
    assert.notEqual(second.perRequest, first.perRequest);
    const other = await body('/singleton', 'dp-b');
    assert.notEqual(other.durable, first.durable);
    // The same per-tenant instance a durable controller gets for that tenant.
    assert.equal((await body('/durable', 'dp-c')).durable, first.durable);
  });

  it('requests of one tenant share one durable instance; another tenant gets its own', async () => {
    const before = built.durable.length;
    const a = [await body('/durable', 'dp-a'), await body('/durable', 'dp-a'), await body('/durable', 'dp-a')];
    const b = [await body('/durable', 'dp-b'), await body('/durable', 'dp-b')];
    assert.equal(new Set(a.map((r) => r.durable)).size, 1);
    assert.equal(new Set(b.map((r) => r.durable)).size, 1);
    assert.notEqual(a[0].durable, b[0].durable);
    // dp-b's instance already existed (previous test); dp-a's is the only one built here.
    assert.equal(built.durable.length, before + 1);
    assert.equal(built.durable[a[0].durable - 1].tenant.id, 'dp-a');
    assert.equal(a[0].model, 'shared');
    assert.equal(b[0].model, 'schema');
  });

  it('a controller that injects a durable provider is itself durable: one instance per tenant', async () => {
    const a1 = await body('/durable', 'dp-a');
    const a2 = await body('/durable', 'dp-a');
    const b1 = await body('/durable', 'dp-b');
    assert.equal(a1.controller, a2.controller);
    assert.notEqual(a1.controller, b1.controller);
  });

  it('a non-durable request-scoped provider is built for every request, and shares the tenant’s durable instance', async () => {
    const durableA = (await body('/durable', 'dp-a')).durable;
    const before = built.perRequest.length;
    const runs = [];
    for (let i = 0; i < 4; i++) runs.push(await body('/per-request', 'dp-a'));
    runs.push(await body('/per-request', 'dp-b'));
    assert.equal(built.perRequest.length, before + 5);
    assert.equal(new Set(runs.map((r) => r.perRequest)).size, 5);
    assert.equal(new Set(runs.map((r) => r.controller)).size, 5, 'a controller injecting it is built per request too');
    assert.deepEqual(
      runs.slice(0, 4).map((r) => r.durable),
      [durableA, durableA, durableA, durableA],
    );
    assert.notEqual(runs[4].durable, durableA);
  });

  it('concurrent first requests of a tenant build its durable instance once', async () => {
    const before = built.durable.length;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => body(i % 2 ? '/durable' : '/per-request', 'dp-e')));
    assert.equal(new Set(results.map((r) => r.durable)).size, 1);
    assert.equal(built.durable.length, before + 1);
  });

  it('the singleton controller and TenantDataSource stay single instances across tenants and requests', async () => {
    const singleton = app.get(SingletonController);
    const dataSource = app.get(TenantDataSource);
    const results = [];
    for (const tenant of ['dp-a', 'dp-b', 'dp-c', 'dp-d', 'dp-a']) results.push(await body('/singleton', tenant));
    assert.deepEqual(
      results.map((r) => r.controller),
      results.map(() => singleton.instance),
    );
    assert.equal(built.singletonController.length, 1);
    assert.ok(dataSourcesSeen.length > 20);
    assert.ok(
      dataSourcesSeen.every((seen) => seen === dataSource),
      'a handler saw a TenantDataSource other than the singleton',
    );
    // Five tenants, five durable instances in all, each built for its own tenant.
    assert.deepEqual(built.durable.map((d) => d.tenant.id).sort(), ['dp-a', 'dp-b', 'dp-c', 'dp-d', 'dp-e']);
  });

  it('a request with no tenant never builds a durable instance', async () => {
    const before = built.durable.length;
    const res = await request(app.getHttpServer()).get('/durable');
    assert.equal(res.status, 400, res.text);
    assert.match(res.body.message, /No tenant given/);
    const unknown = await call('/durable', 'dp-zz');
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(built.durable.length, before);
  });
  it('CURRENT_STRATEGY and CURRENT_TENANT_DATA_SOURCE: one instance per tenant, of its model, in its transaction', async () => {
    const models: Record<string, string> = { 'dp-a': 'shared', 'dp-b': 'schema', 'dp-c': 'database' };
    const first: Record<string, Record<string, any>> = {};
    for (const round of [1, 2]) {
      for (const tenant of Object.keys(models)) {
        const res = await body('/native', tenant);
        assert.equal(res.model, models[tenant]);
        assert.equal(res.dataSourceTenant, tenant);
        if (round === 1) first[tenant] = res;
        else assert.equal(res.dataSource, first[tenant].dataSource, `${tenant} got a second durable DataSource`);
      }
    }
    assert.equal(new Set(Object.values(first).map((r) => r.dataSource)).size, 3, 'two tenants shared a durable DataSource');
    const singleton = app.get(TenantDataSource);
    assert.ok([...lastDurableDataSource.values()].every((ds) => ds !== singleton));
  });

  it('a tenant’s durable DataSource refuses another tenant’s unit of work, before any query', async () => {
    await body('/native', 'dp-a');
    const ofA = lastDurableDataSource.get('dp-a')!;
    const tenancy = app.get(TenancyService);
    await assert.rejects(
      tenancy.run('dp-b', () => ofA.query('SELECT 1')),
      (err) => err instanceof TenantScopeMismatchError && /built for tenant 'dp-a'.*tenant 'dp-b'/.test(err.message),
    );
    await assert.rejects(
      tenancy.run('dp-c', async () => ofA.manager),
      TenantScopeMismatchError,
    );
    const [row] = await tenancy.run('dp-a', () => ofA.query<{ t: string }[]>(`SELECT current_setting('app.tenant_id') AS t`));
    assert.equal(row.t, 'dp-a');
  });

  it('a deleted tenant’s durable instances are dropped: the same id provisioned again gets new ones', async () => {
    const before = await body('/native', 'dp-d');
    const durableBefore = (await body('/durable', 'dp-d')).durable;
    assert.ok(tenantContextIdStrategy.knows('dp-d'));
    await app.get(TenantLifecycle).remove('dp-d', { force: true });
    assert.equal(app.get(TenantCatalog).get('dp-d'), undefined);
    assert.equal(tenantContextIdStrategy.knows('dp-d'), false, 'the deleted tenant’s durable sub-tree is still held');
    const gone = await call('/native', 'dp-d');
    assert.equal(gone.status, 404, gone.text);
    await app.get(TenantProvisioner).provision({ id: 'dp-d', name: 'Durable D again', strategy: 'schema' });
    const after = await body('/native', 'dp-d');
    assert.notEqual(after.dataSource, before.dataSource);
    assert.equal(after.model, 'schema');
    const durableAfter = (await body('/durable', 'dp-d')).durable;
    assert.notEqual(durableAfter, durableBefore);
    assert.equal(built.durable[durableAfter - 1].tenant.id, 'dp-d');
  });

  it('a moved tenant’s durable instances are rebuilt: CURRENT_STRATEGY follows it to its new model', async () => {
    const before = await body('/native', 'dp-e');
    const otherBefore = (await body('/native', 'dp-b')).dataSource;
    assert.equal(before.model, 'database');
    await app.get(TenantMover).move('dp-e', { strategy: 'shared' });
    const after = await body('/native', 'dp-e');
    assert.equal(after.model, 'shared');
    assert.notEqual(after.dataSource, before.dataSource);
    // The other tenants keep theirs.
    assert.equal((await body('/native', 'dp-b')).dataSource, otherBefore);
  });
});
