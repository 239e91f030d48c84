// TenancyModule's registration forms, each booted for real on its own control database: forRootAsync
// with useFactory (imports + inject), useClass (with extraProviders), useExisting, forRoot with
// isGlobal: false (forFeature still works, other modules cannot inject the module's providers), and
// cls: 'app' (the app's own nestjs-cls) with a tenant source of the app's own resolving a tenant.
import assert from 'node:assert/strict';
import { afterAll, describe, it } from '@jest/globals';
import { Controller, Get, Inject, Injectable, INestApplicationContext, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ClsModule, ClsService } from 'nestjs-cls';
import request from 'supertest';
import { Repository } from 'typeorm';
import {
  InjectTenantRepository,
  TenancyExceptionFilter,
  TenancyModule,
  TenancyModuleOptions,
  TenancyOptionsFactory,
  TenancyService,
  TenantDataSource,
  type TenantRequest,
  type TenantSource,
} from '../libs/tenancy/src';
import { ResolvedTenancyOptions, TENANCY_OPTIONS } from '../libs/tenancy/src/config/tenancy-options';
import { TENANT_MIGRATIONS } from '../src/migrations';
import { User } from '../src/users/user.entity';
import { DEFAULT_TIERS, dropEverything } from './support/test-app';
import { uniqueSuffix, urlFor, withOwnerClient } from './support/test-database';
import { startNestApp } from './support/nest-app';

const logger: false | ('error' | 'warn' | 'log')[] = process.env.TEST_LOG ? ['error', 'warn', 'log'] : false;

/** A control database, runtime role and prefix of the suite's own; `drop` removes all of them. */
function suiteDatabase() {
  const suffix = uniqueSuffix();
  const names = { controlDatabase: `nt_${suffix}`, runtimeRole: `nt_app_${suffix}`, databasePrefix: `nt${suffix}_` };
  return {
    ...names,
    create: () => withOwnerClient(undefined, (c) => c.query(`CREATE DATABASE "${names.controlDatabase}"`)),
    drop: () => dropEverything(names.controlDatabase, names.databasePrefix, names.runtimeRole),
    options: (refreshMillis: number): TenancyModuleOptions => ({
      databaseUrl: urlFor(names.controlDatabase),
      catalog: {
        tiers: DEFAULT_TIERS,
        tenants: [
          { id: 'mo-a', name: 'Module A', tier: 'free' },
          { id: 'mo-b', name: 'Module B', tier: 'pro' },
        ],
      },
      migrations: TENANT_MIGRATIONS,
      runtimeRole: names.runtimeRole,
      naming: { databasePrefix: names.databasePrefix },
      // A value no default has: proves these very options reached the module.
      catalogRefreshMillis: refreshMillis,
    }),
  };
}

/** The tenant a unit of work of `tenant` runs as, read from the database. */
async function databaseTenant(app: INestApplicationContext, tenant: string): Promise<string> {
  const data = app.get(TenantDataSource);
  return app.get(TenancyService).run(tenant, async () => {
    const [row] = await data.query<{ t: string }[]>(`SELECT current_setting('app.tenant_id') AS t`);
    return row.t;
  });
}

const SETTINGS = Symbol('settings');

@Module({ providers: [{ provide: SETTINGS, useValue: { refreshMillis: 0 } }], exports: [SETTINGS] })
class SettingsModule {}

@Injectable()
class OptionsFromSettings implements TenancyOptionsFactory {
  constructor(@Inject(SETTINGS) private readonly settings: { refreshMillis: number; build: (ms: number) => TenancyModuleOptions }) {}

  createTenancyOptions(): TenancyModuleOptions {
    return this.settings.build(this.settings.refreshMillis);
  }
}

@Module({ imports: [SettingsModule], providers: [OptionsFromSettings], exports: [OptionsFromSettings] })
class OptionsModule {}

describe('TenancyModule.forRootAsync forms', () => {
  const db = suiteDatabase();
  const settings = { refreshMillis: 0, build: db.options };
  let created = false;
  afterAll(async () => {
    if (created) await db.drop();
  });

  async function boot(imports: unknown[], refreshMillis: number): Promise<void> {
    if (!created) await db.create();
    created = true;
    settings.refreshMillis = refreshMillis;
    const moduleRef = await Test.createTestingModule({ imports: imports as never[] })
      .overrideProvider(SETTINGS)
      .useValue(settings)
      .compile();
    moduleRef.useLogger(logger);
    await moduleRef.init();
    try {
      assert.equal(moduleRef.get<ResolvedTenancyOptions>(TENANCY_OPTIONS).catalogRefreshMillis, refreshMillis);
      assert.equal(await databaseTenant(moduleRef, 'mo-a'), 'mo-a');
      assert.equal(await databaseTenant(moduleRef, 'mo-b'), 'mo-b');
    } finally {
      await moduleRef.close();
    }
  }

  it('useFactory with imports and inject', async () => {
    await boot(
      [
        TenancyModule.forRootAsync({
          imports: [SettingsModule],
          inject: [SETTINGS],
          useFactory: (s: typeof settings) => s.build(s.refreshMillis),
        }),
      ],
      31_001,
    );
  });

  it('useClass, whose dependency comes from extraProviders', async () => {
    await boot(
      [TenancyModule.forRootAsync({ useClass: OptionsFromSettings, extraProviders: [{ provide: SETTINGS, useValue: settings }] })],
      31_002,
    );
  });

  it('useExisting, a factory exported by an imported module', async () => {
    await boot([TenancyModule.forRootAsync({ imports: [OptionsModule], useExisting: OptionsFromSettings })], 31_003);
  });

  it('refuses none or two of useFactory, useClass and useExisting, naming them', () => {
    assert.throws(() => TenancyModule.forRootAsync({}), /exactly one of useFactory, useClass or useExisting \(0 given\)/);
    assert.throws(
      () => TenancyModule.forRootAsync({ useClass: OptionsFromSettings, useExisting: OptionsFromSettings }),
      /exactly one of useFactory, useClass or useExisting \(2 given\)/,
    );
  });
});

// --- isGlobal: false ----------------------------------------------------------------------------------

@Injectable()
class UserCounter {
  constructor(@InjectTenantRepository(User) private readonly users: Repository<User>) {}
  count(): Promise<number> {
    return this.users.count();
  }
}

@Module({ imports: [TenancyModule.forFeature([User])], providers: [UserCounter], exports: [UserCounter] })
class CounterFeatureModule {}

@Injectable()
class NeedsTenancy {
  constructor(readonly tenancy: TenancyService) {}
}

@Module({ providers: [NeedsTenancy] })
class OutsiderModule {}

describe('TenancyModule.forRoot({ isGlobal: false })', () => {
  const db = suiteDatabase();
  let created = false;
  afterAll(async () => {
    if (created) await db.drop();
  });

  it('forFeature repositories work, and a module that does not import TenancyModule cannot inject its providers', async () => {
    await db.create();
    created = true;
    const root = TenancyModule.forRoot({ ...db.options(31_004), isGlobal: false });
    const moduleRef = await Test.createTestingModule({ imports: [root, CounterFeatureModule] }).compile();
    moduleRef.useLogger(logger);
    await moduleRef.init();
    try {
      const counter = moduleRef.get(UserCounter);
      assert.equal(await moduleRef.get(TenancyService).run('mo-a', () => counter.count()), 0);
    } finally {
      await moduleRef.close();
    }
    // Nest refuses the graph while resolving dependencies, before anything reaches the database.
    await assert.rejects(
      Test.createTestingModule({ imports: [TenancyModule.forRoot({ ...db.options(31_005), isGlobal: false }), OutsiderModule] }).compile(),
      /NeedsTenancy[\s\S]*TenancyService/,
    );
  });
});

// --- cls: 'app' and a tenant source of the app's own ------------------------------------------------

const COOKIE = Symbol('cookie-name');

/** The tenant from a cookie; its cookie name is injected, to show the source is built through DI. */
@Injectable()
class CookieTenantSource implements TenantSource {
  readonly name = 'cookie';
  readonly description = 'the tenant cookie';
  constructor(@Inject(COOKIE) private readonly cookie: string) {}

  read(req: TenantRequest): string | undefined {
    const header = req.headers.cookie ?? '';
    const pair = header
      .split(';')
      .map((p) => p.trim().split('='))
      .find(([k]) => k === this.cookie);
    return pair?.[1];
  }
}

@Controller('whoami')
class WhoAmIController {
  constructor(
    private readonly tenancy: TenancyService,
    private readonly data: TenantDataSource,
    private readonly cls: ClsService,
  ) {}

  @Get()
  async get() {
    const [row] = await this.data.query<{ t: string }[]>(`SELECT current_setting('app.tenant_id') AS t`);
    return { tenant: this.tenancy.currentTenantId, databaseTenant: row.t, appValue: this.cls.get('app-value') ?? null };
  }
}

describe("cls: 'app' with a tenant source of the app's own", () => {
  const db = suiteDatabase();
  let http: any;
  let close: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await close?.();
    if (http) await db.drop();
  });

  async function start(): Promise<void> {
    if (http) return;
    await db.create();
    const moduleRef = await Test.createTestingModule({
      imports: [
        // The app's own nestjs-cls, with a setup of its own: the module must not configure it again.
        ClsModule.forRoot({ global: true, middleware: { mount: true, setup: (cls) => cls.set('app-value', 'set by the app') } }),
        TenancyModule.forRootAsync({
          cls: 'app',
          extraProviders: [{ provide: COOKIE, useValue: 'tenant' }],
          useFactory: () => ({ ...db.options(31_006), resolution: { sources: [CookieTenantSource], order: ['cookie', 'header'] } }),
        }),
      ],
      controllers: [WhoAmIController],
      providers: [{ provide: APP_FILTER, useClass: TenancyExceptionFilter }],
    }).compile();
    const app = await startNestApp(moduleRef, { logger });
    http = app.getHttpServer();
    close = () => app.close();
  }

  it('the custom source names the tenant, in the app’s nestjs-cls context', async () => {
    await start();
    for (const tenant of ['mo-a', 'mo-b']) {
      const res = await request(http).get('/whoami').set('Cookie', `theme=dark; tenant=${tenant}`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { tenant, databaseTenant: tenant, appValue: 'set by the app' });
    }
  });

  it('the custom source takes part in the order and in conflicts like a built-in one', async () => {
    await start();
    const header = await request(http).get('/whoami').set('X-Tenant-ID', 'mo-b');
    assert.equal(header.status, 200, header.text);
    assert.equal(header.body.tenant, 'mo-b');
    const conflict = await request(http).get('/whoami').set('Cookie', 'tenant=mo-a').set('X-Tenant-ID', 'mo-b');
    assert.equal(conflict.status, 400, conflict.text);
    assert.match(conflict.body.message, /^The tenant cookie names tenant 'mo-a' but the x-tenant-id header names tenant 'mo-b'/);
    const malformed = await request(http).get('/whoami').set('Cookie', 'tenant=NOT_AN_ID');
    assert.equal(malformed.status, 400, malformed.text);
    assert.match(malformed.body.message, /from the tenant cookie is malformed/);
  });

  it("without the app's nestjs-cls middleware, the module opens the context itself: the tenant is served, the app's own setup did not run", async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ClsModule.forRoot({ global: true }), TenancyModule.forRoot({ ...db.options(31_008), cls: 'app' })],
      controllers: [WhoAmIController],
      providers: [{ provide: APP_FILTER, useClass: TenancyExceptionFilter }],
    }).compile();
    const app = await startNestApp(moduleRef, { logger });
    try {
      const res = await request(app.getHttpServer()).get('/whoami').set('X-Tenant-ID', 'mo-a');
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body, { tenant: 'mo-a', databaseTenant: 'mo-a', appValue: null });
    } finally {
      await app.close();
    }
  });

  it('an order naming no source fails at start, naming the known ones', async () => {
    const root = TenancyModule.forRoot({ ...db.options(31_007), resolution: { order: ['cookie', 'header'] } });
    await assert.rejects(
      Test.createTestingModule({ imports: [root] }).compile(),
      /"cookie" names no source; known: header, subdomain, path/,
    );
  });
});
